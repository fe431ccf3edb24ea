// The control planes sharing a store, each an instance with a heartbeat. An
// instance whose heartbeat is older than the lease is dead: the operations it
// claimed and the computes it watched are taken over by the others
// (compute-claims.ts, compute-adoption.ts). On one host a dead process is known
// at once by its pid (store/locality.ts); elsewhere only the lease tells.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { currentLocality, isGoneLocally } from './store/locality.js';
import type { InstanceRow, StateStore } from './store/state-store.js';

export interface InstanceRegistryOptions {
  store: StateStore;
  /** How long an instance may stay silent before it counts as dead. */
  leaseMs: number;
  placement: string;
  logger: Logger;
  /** Default: host, pid and a random suffix. */
  id?: string;
}

export class InstanceRegistry {
  readonly id: string;
  private timer: NodeJS.Timeout | undefined;
  private snapshot: { at: number; rows: Map<string, InstanceRow> } | undefined;
  private refreshing: Promise<Map<string, InstanceRow>> | undefined;
  private beatFailing = false;
  /** When the last heartbeat that was written had been sent (monotonic ms). */
  private lastBeatSent = performance.now();

  private constructor(private readonly opts: InstanceRegistryOptions) {
    this.id = opts.id ?? `${hostname()}/${process.pid}/${randomBytes(3).toString('hex')}`;
  }

  /** Registers this instance and keeps its heartbeat going (every quarter lease). */
  static async start(opts: InstanceRegistryOptions): Promise<InstanceRegistry> {
    const r = new InstanceRegistry(opts);
    r.lastBeatSent = performance.now();
    await opts.store.registerInstance(r.info());
    r.timer = setInterval(() => void r.beat(), Math.max(50, Math.round(opts.leaseMs / 4))).unref();
    return r;
  }

  /** Whether the instance runs: itself, or a heartbeat within the lease and not certainly gone on this host. */
  async alive(id: string): Promise<boolean> {
    if (id === this.id) return true;
    const row = (await this.rows()).get(id);
    if (!row || row.silentMs >= this.opts.leaseMs) return false;
    return !isGoneLocally(row.pid, row.locality);
  }

  /**
   * Whether this instance surely still counts as alive to the others: its last
   * written heartbeat was sent less than (most of) a lease ago by its own clock.
   * False after a pause (SIGSTOP) or a long store outage: its claims may have
   * been taken over, so it must not touch a compute until a heartbeat lands.
   */
  selfAlive(): boolean {
    return performance.now() - this.lastBeatSent < this.opts.leaseMs * 0.9;
  }

  /** Instances dead for longer than `ms` (forgotten by the leader once their computes are adopted). */
  async deadFor(ms: number): Promise<InstanceRow[]> {
    return [...(await this.rows(true)).values()].filter((r) => r.id !== this.id && (r.silentMs >= ms || isGoneLocally(r.pid, r.locality)));
  }

  async forget(id: string): Promise<void> {
    await this.opts.store.removeInstance(id);
    this.snapshot = undefined;
  }

  /** Stops the heartbeat and removes the row: the others know at once that this instance is gone. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.opts.store.removeInstance(this.id).catch((err: unknown) => this.opts.logger.warn({ err }, 'could not unregister this control plane'));
  }

  private info() {
    return { id: this.id, host: hostname(), pid: process.pid, locality: currentLocality(), placement: this.opts.placement, startedAt: Date.now() };
  }

  private async beat(): Promise<void> {
    const sent = performance.now();
    try {
      if (!(await this.opts.store.heartbeat(this.id))) {
        this.opts.logger.warn({ instance: this.id }, 'this control plane was counted dead (silent past its lease) and forgotten; registering again');
        await this.opts.store.registerInstance(this.info());
      }
      this.lastBeatSent = Math.max(this.lastBeatSent, sent);
      if (this.beatFailing) this.opts.logger.info({ instance: this.id }, 'heartbeat written again');
      this.beatFailing = false;
    } catch (err) {
      if (!this.beatFailing) this.opts.logger.warn({ err, instance: this.id }, 'could not write the heartbeat: others will count this control plane dead after the lease');
      this.beatFailing = true;
    }
  }

  /** The instances table, read at most every few hundred milliseconds however many ask. */
  private async rows(fresh = false): Promise<Map<string, InstanceRow>> {
    const maxAge = Math.min(250, this.opts.leaseMs / 8);
    if (!fresh && this.snapshot && performance.now() - this.snapshot.at < maxAge) return this.snapshot.rows;
    this.refreshing ??= this.opts.store
      .listInstances()
      .then((list) => {
        const rows = new Map(list.map((r) => [r.id, r]));
        this.snapshot = { at: performance.now(), rows };
        return rows;
      })
      .finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }
}
