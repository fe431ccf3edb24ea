// The proxy's ActivityTracker: registers relaying sockets and, once per report
// interval, samples their byte counters and writes the proxy's whole state to
// the activity store. Nothing here runs per packet or per query, and nothing
// is awaited before a client is served: track() and its undo are O(1).
//
// A failed write changes nothing but a flag: the state stays in memory and the
// next interval sends all of it again (absolute values, see activity-store.ts).
// The outage is logged when it starts and when it ends, not per interval.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import {
  bucketOf,
  REPORT_TTL_INTERVALS,
  type ActivityReport,
  type ActivityStore,
  type UsageCounters,
} from '../activity/activity-store.js';
import type { ActivityTracker } from './activity.js';

export interface ActivityReporterOptions {
  store: ActivityStore;
  intervalMs: number;
  logger: Logger;
  /** Default: hostname, pid and a random suffix, so a restarted proxy never reuses one. */
  proxyId?: string;
  /** Told how long each store write took and whether it worked (for metrics). */
  onWrite?: (outcome: 'ok' | 'error', seconds: number) => void;
}

interface Tracked {
  project: string;
  socket: Socket;
  /** Counters and time already added to the usage buckets. */
  seenIn: number;
  seenOut: number;
  sampledAt: number;
}

interface ProjectState {
  clients: number;
  lastActive: number;
  /** bucket start -> this proxy's totals in it; closed buckets leave once written. */
  buckets: Map<number, UsageCounters>;
}

/** A project nobody used for this long is forgotten here (the store keeps its last activity). */
const FORGET_AFTER_MS = 3_600_000;

export class ActivityReporter implements ActivityTracker {
  readonly proxyId: string;
  private readonly sessions = new Set<Tracked>();
  /** Bytes already counted per socket, for a socket tracked more than once (a pool mode tracking per transaction). */
  private readonly counted = new WeakMap<Socket, { in: number; out: number }>();
  private readonly projects = new Map<string, ProjectState>();
  private readonly timer: NodeJS.Timeout;
  private writing: Promise<void> | undefined;
  private storeDown = false;
  private closed = false;

  constructor(private readonly opts: ActivityReporterOptions) {
    this.proxyId = opts.proxyId ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
    this.timer = setInterval(() => void this.flush(), opts.intervalMs).unref();
  }

  track(project: string, socket: Socket): () => void {
    const now = Date.now();
    // Bytes of the handshake count too: a socket's first sample starts from zero.
    const seen = this.counted.get(socket) ?? { in: 0, out: 0 };
    const entry: Tracked = { project, socket, seenIn: seen.in, seenOut: seen.out, sampledAt: now };
    this.sessions.add(entry);
    const p = this.project(project);
    p.clients++;
    p.lastActive = now;
    let done = false;
    const untrack = () => {
      if (done) return;
      done = true;
      socket.off('close', untrack);
      const end = Date.now();
      this.sample(entry, end);
      this.sessions.delete(entry);
      this.counted.set(socket, { in: entry.seenIn, out: entry.seenOut });
      p.clients--;
      // The idle timeout runs from the moment the last client left.
      p.lastActive = end;
    };
    // However the session ends, a closed socket is no client: a missed untrack must not keep a project awake.
    socket.once('close', untrack);
    return untrack;
  }

  lastActivity(): ReadonlyMap<string, number> {
    const out = new Map<string, number>();
    for (const [name, p] of this.projects) if (p.lastActive > 0) out.set(name, p.lastActive);
    return out;
  }

  /** Samples every socket and writes the whole state now; resolves once written or failed (never rejects). */
  flush(): Promise<void> {
    // One write at a time: a tick during a slow write is skipped, the next carries everything.
    this.writing ??= this.writeOnce().finally(() => (this.writing = undefined));
    return this.writing;
  }

  /**
   * Stops the timer and writes a last report (clients gone by then count
   * zero). The store is not closed: in dev mode the control plane shares it.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    await this.writing;
    await this.flush();
  }

  private async writeOnce(): Promise<void> {
    const at = Date.now();
    for (const s of this.sessions) this.sample(s, at);
    const report = this.snapshot(at);
    const started = performance.now();
    try {
      await this.opts.store.write(report);
    } catch (err) {
      this.opts.onWrite?.('error', (performance.now() - started) / 1000);
      if (!this.storeDown) {
        this.storeDown = true;
        this.opts.logger.warn({ err: (err as Error).message, store: this.opts.store.kind }, 'activity store unreachable: reporting paused, clients are served as usual');
      }
      return;
    }
    this.opts.onWrite?.('ok', (performance.now() - started) / 1000);
    if (this.storeDown) {
      this.storeDown = false;
      this.opts.logger.info({ store: this.opts.store.kind, projects: report.clients.size }, 'activity store reachable again: full state re-sent');
    }
    this.forgetWritten(at);
  }

  /** Adds what a socket moved since its last sample to its project's current bucket. */
  private sample(s: Tracked, now: number): void {
    const p = this.project(s.project);
    const dIn = s.socket.bytesRead - s.seenIn;
    const dOut = s.socket.bytesWritten - s.seenOut;
    const start = bucketOf(now);
    let b = p.buckets.get(start);
    if (!b) p.buckets.set(start, (b = { project: s.project, bucketStart: start, bytesIn: 0, bytesOut: 0, connectionMs: 0 }));
    b.bytesIn += dIn;
    b.bytesOut += dOut;
    b.connectionMs += Math.max(0, now - s.sampledAt);
    if (dIn > 0 || dOut > 0) p.lastActive = Math.max(p.lastActive, now);
    s.seenIn += dIn;
    s.seenOut += dOut;
    s.sampledAt = now;
  }

  private snapshot(at: number): ActivityReport {
    const clients = new Map<string, number>();
    const lastActive = new Map<string, number>();
    const usage: UsageCounters[] = [];
    for (const [name, p] of this.projects) {
      if (p.clients > 0) clients.set(name, p.clients);
      if (p.lastActive > 0) lastActive.set(name, p.lastActive);
      for (const b of p.buckets.values()) usage.push({ ...b });
    }
    return { proxyId: this.proxyId, at, ttlMs: this.opts.intervalMs * REPORT_TTL_INTERVALS, clients, lastActive, usage };
  }

  /** Buckets that closed before `at` were written with their final values; projects long idle go. */
  private forgetWritten(at: number): void {
    const current = bucketOf(at);
    for (const [name, p] of this.projects) {
      for (const start of p.buckets.keys()) if (start < current) p.buckets.delete(start);
      if (p.clients === 0 && p.buckets.size === 0 && at - p.lastActive > FORGET_AFTER_MS) this.projects.delete(name);
    }
  }

  private project(name: string): ProjectState {
    let p = this.projects.get(name);
    if (!p) this.projects.set(name, (p = { clients: 0, lastActive: 0, buckets: new Map() }));
    return p;
  }
}
