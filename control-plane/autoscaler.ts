// The autoscaler: every interval it samples each active compute (its server's
// status through the control account, its process's CPU and memory through
// the driver), asks autoscale-decision.ts what size that calls for, and
// resizes the compute when the answer differs (compute-resize.ts, in the
// compute's operation queue).
//
// It runs on the leader only, one instance per term (leader-duties.ts), like
// the idle scheduler; every size it records carries the term's fence. What it
// remembers of a compute (recent samples, recent goals) lives in memory and
// starts afresh with each run of the compute and each term: a new leader
// first sets every active compute to the size the store says it has, in case
// the last leader died in the middle of a resize.
import type { Logger } from 'pino';
import { decide, demandOf, goalOf, type AutoscaleRules, type AutoscaleSample, type Demand, type ScalerMemory } from './autoscale-decision.js';
import { readServerStatus } from './compute-server.js';
import { NotResizableError } from './compute-resize.js';
import { cuOf } from './compute-size.js';
import type { Resized } from './compute-resize.js';
import type { ComputeDriver } from './drivers/driver.js';
import type { ControlPlaneMetrics } from './metrics.js';
import type { ComputeRecord, ProjectRecord } from './records.js';
import { FencedError, type LeaderFence } from './store/state-store.js';
import { PeriodicPass } from './periodic-pass.js';

/** What the autoscaler needs of the control plane (ControlPlaneService provides it). */
export interface AutoscaleTargets {
  computeRecords(): Promise<ComputeRecord[]>;
  projectRecord(id: string): Promise<ProjectRecord | undefined>;
  resizeCompute(id: string, toMilli: number, fence?: LeaderFence): Promise<Resized | undefined>;
}

export interface AutoscalerOptions {
  targets: AutoscaleTargets;
  driver: ComputeDriver;
  fence: () => LeaderFence | undefined;
  intervalMs: number;
  rules: AutoscaleRules;
  logger: Logger;
  metrics: ControlPlaneMetrics;
  /** Bound on one compute's sample. */
  sampleTimeoutMs?: number;
}

interface Tracked {
  resumeCount: number;
  sizeMilli: number;
  samples: AutoscaleSample[];
  memory: ScalerMemory;
  /** Set to the stored size once in this term (the last leader may have died mid-resize). */
  reconciled: boolean;
  /** Said once: why this run of the compute cannot be sampled or resized. */
  trouble?: string;
  notResizable?: boolean;
}

/** Computes sampled at once. */
const CONCURRENCY = 8;

export class Autoscaler {
  private readonly tracked = new Map<string, Tracked>();
  private readonly passes: PeriodicPass<void>;

  constructor(private readonly o: AutoscalerOptions) {
    this.passes = new PeriodicPass(
      () => this.passOnce(),
      (err) => this.o.logger.error({ err }, 'autoscaler pass failed'),
      o.intervalMs,
    );
  }

  start(): void {
    this.passes.start();
    this.o.logger.info({ intervalMs: this.o.intervalMs, downAfterMs: this.o.rules.downAfterMs }, 'autoscaler started');
  }

  /** One pass over every active compute; never rejects. Concurrent calls share it. */
  pass(): Promise<void> {
    return this.passes.now();
  }

  close(): Promise<void> {
    return this.passes.close();
  }

  private async passOnce(): Promise<void> {
    if (!this.o.fence()) return;
    const active = (await this.o.targets.computeRecords()).filter(
      (c) => c.state === 'active' && !c.claim && c.endpoint && c.control && (!c.placement || c.placement === this.o.driver.placement),
    );
    const ids = new Set(active.map((c) => c.id));
    for (const id of this.tracked.keys()) if (!ids.has(id)) this.tracked.delete(id);
    let allocated = 0;
    for (let i = 0; i < active.length; i += CONCURRENCY) {
      const sizes = await Promise.all(active.slice(i, i + CONCURRENCY).map((c) => this.scale(c)));
      allocated += sizes.reduce((a, b) => a + b, 0);
    }
    this.o.metrics.allocatedCu.set(cuOf(allocated));
  }

  /** Samples one compute and resizes it if the rules say so; answers its size afterwards (milli-CU). */
  private async scale(c: ComputeRecord): Promise<number> {
    const now = Date.now();
    let t = this.tracked.get(c.id);
    if (!t || t.resumeCount !== c.resumeCount) {
      // A new run of the compute (or the first look in this term): nothing of the last one carries over.
      t = { resumeCount: c.resumeCount, sizeMilli: c.sizeMilli, samples: [], memory: { changedAt: now, goals: [] }, reconciled: t !== undefined };
      this.tracked.set(c.id, t);
    }
    if (t.sizeMilli !== c.sizeMilli) {
      // Resized by someone else (a change of range): the wait before going down starts again.
      t.sizeMilli = c.sizeMilli;
      t.memory.changedAt = now;
    }
    const project = await this.o.targets.projectRecord(c.projectId);
    if (!project) return c.sizeMilli;
    const sample = await this.sample(c, t);
    if (!sample) return c.sizeMilli;
    t.samples.push(sample);
    if (t.samples.length > this.o.rules.runQueueSamples + 1) t.samples.shift();
    const demand = demandOf(t.samples, this.o.rules);
    const goal = goalOf(demand, project.range);
    const decision = decide(t.memory, c.sizeMilli, goal, project.range, now, this.o.rules);
    if (!t.reconciled) {
      t.reconciled = true;
      if (decision.direction === 'hold') await this.resize(c, t, c.sizeMilli, 'reconcile', demand);
    }
    if (decision.direction === 'hold' || t.notResizable) return c.sizeMilli;
    return (await this.resize(c, t, decision.targetMilli, decision.cause, demand)) ?? c.sizeMilli;
  }

  private async sample(c: ComputeRecord, t: Tracked): Promise<AutoscaleSample | undefined> {
    const timeoutMs = this.o.sampleTimeoutMs ?? Math.max(1_000, Math.min(5_000, this.o.intervalMs));
    try {
      const [status, usage] = await Promise.all([
        readServerStatus(c.endpoint!, c.control!, timeoutMs),
        this.o.driver.usage(c.id, AbortSignal.timeout(timeoutMs)).catch(() => ({})),
      ]);
      this.o.metrics.autoscalerSamples.inc({ outcome: 'ok' });
      if (t.trouble) {
        this.o.logger.info({ computeId: c.id, projectId: c.projectId }, 'autoscaler can sample the compute again');
        t.trouble = undefined;
      }
      return { at: Date.now(), ...usage, ...status };
    } catch (err) {
      this.o.metrics.autoscalerSamples.inc({ outcome: 'unreadable' });
      const why = (err as Error).message;
      if (t.trouble === undefined) this.o.logger.warn({ computeId: c.id, projectId: c.projectId, err: why }, 'autoscaler cannot sample the compute; it keeps its size');
      t.trouble = why;
      return undefined;
    }
  }

  private async resize(c: ComputeRecord, t: Tracked, toMilli: number, cause: string, demand: Demand): Promise<number | undefined> {
    const fence = this.o.fence();
    if (!fence) return undefined;
    const direction = toMilli > c.sizeMilli ? 'up' : toMilli < c.sizeMilli ? 'down' : 'same';
    const log = { computeId: c.id, projectId: c.projectId, fromCu: cuOf(c.sizeMilli), toCu: cuOf(toMilli), cause };
    try {
      const done = await this.o.targets.resizeCompute(c.id, toMilli, fence);
      if (!done) return undefined;
      if (direction !== 'same') {
        t.sizeMilli = toMilli;
        t.memory.changedAt = Date.now();
        this.o.metrics.resizes.inc({ direction, cause });
        this.o.metrics.resizeSeconds.observe({ direction }, done.ms / 1000);
        this.o.logger.info({ ...log, ms: done.ms, limits: done.limits, demand: rounded(demand) }, 'compute resized');
      }
      return toMilli;
    } catch (err) {
      const reason = err instanceof FencedError ? 'fenced' : err instanceof NotResizableError ? 'not_resizable' : 'failed';
      this.o.metrics.resizeFailures.inc({ reason });
      if (err instanceof NotResizableError) {
        t.notResizable = true;
        this.o.logger.warn({ ...log, err: err.message }, 'compute cannot be resized; it keeps its size');
      } else {
        this.o.logger.warn({ ...log, err }, 'resize failed; the compute keeps its size');
      }
      return undefined;
    }
  }
}

function rounded(d: Demand): Record<string, number | null> {
  const r = (x: number) => Math.round(x * 100) / 100;
  return { cpuCu: r(d.cpu), memoryCu: r(d.memory), workingSetCu: r(d.workingSet), cpuCores: r(d.cpuCores), runQueue: r(d.runQueue), hitRatio: d.hitRatio === null ? null : r(d.hitRatio) };
}
