// The compute state machine over a driver:
//
//   stopped | frozen | failed --resume--> starting --> active | failed
//   active --freeze--> frozen        active | frozen | failed --stop--> stopping --> stopped
//   active | frozen --crash--> failed
//   active --unresponsive--> failed --(process stopped)--> starting --> active
//
// Every driver call for a compute goes through that compute's CoalescingQueue,
// which is where wake single-flight and wake-after-suspend ordering come from.
import type { Logger } from 'pino';
import { ApiError, notFound } from './api-error.js';
import { CoalescingQueue } from './coalescing-queue.js';
import type { ComputeDriver, SuspendTier } from './drivers/driver.js';
import { computeView, type ComputeRecord, type ComputeState, type ComputeView } from './records.js';
import type { ComputeEvent } from './usage-ledger.js';

export interface ComputeLifecycleOptions {
  driver: ComputeDriver;
  computes: Map<string, ComputeRecord>;
  /** Saves state; failures are the caller's to log. */
  persist: () => Promise<void>;
  logger: Logger;
  /** Bound on one driver resume, whoever waits for it. */
  wakeTimeoutMs: number;
  /** Told every transition and removal (usage accounting). */
  onEvent?: (e: ComputeEvent) => void;
  /** Awaited in the compute's queue before an active compute is suspended (role reading); must be bounded and not throw. */
  beforeSuspend?: (c: ComputeRecord) => Promise<void>;
}

export class ComputeLifecycle {
  private readonly queues = new Map<string, CoalescingQueue>();
  private readonly closing = new AbortController();
  /** When each compute's last wake was asked for or answered: a proxy may use the answer for a while. */
  private readonly lastWake = new Map<string, number>();

  constructor(private readonly o: ComputeLifecycleOptions) {
    o.driver.onUnexpectedExit((id, reason) => this.crashed(id, reason));
  }

  /** Brings the compute to active; waits at most timeoutMs (the resume itself may go on for later callers). */
  async wake(id: string, timeoutMs: number): Promise<ComputeView> {
    const c = this.record(id);
    const queue = this.queue(id);
    this.lastWake.set(id, Date.now());
    if (c.state === 'active' && !queue.busy) return computeView(c);
    const view = await withDeadline(queue.run('resume', () => this.resumeNow(id)), timeoutMs, () => {
      return new ApiError(504, 'wake_timeout', `project '${c.projectId}': compute ${id} was not active within ${timeoutMs} ms`);
    });
    this.lastWake.set(id, Date.now());
    return view;
  }

  lastWakeAt(id: string): number | undefined {
    return this.lastWake.get(id);
  }

  /**
   * A suspend that asks `stillIdle` once the compute's queue reaches it, so no
   * wake can run between the question and the suspend; undefined if it said no.
   */
  suspendIf(id: string, tier: SuspendTier, stillIdle: (c: ComputeView) => Promise<boolean>): Promise<ComputeView | undefined> {
    this.record(id);
    const effective: SuspendTier = this.o.driver.supportsFreeze ? tier : 'stop';
    return this.queue(id).run(`suspend-if-idle:${effective}`, async () => {
      const c = this.o.computes.get(id);
      if (!c || !(await stillIdle(computeView(c)))) return undefined;
      return this.suspendNow(id, effective);
    });
  }

  suspend(id: string, tier: SuspendTier): Promise<ComputeView> {
    this.record(id);
    const effective: SuspendTier = this.o.driver.supportsFreeze ? tier : 'stop';
    return this.queue(id).run(`suspend:${effective}`, () => this.suspendNow(id, effective));
  }

  /**
   * A health probe found the compute unresponsive (compute-prober.ts). If it is still
   * the active compute that was probed (unchanged since `seenUpdatedAt`), it is
   * reported failed and its process stopped, in its queue (no wake or suspend runs in
   * between); then woken again. False when it had changed.
   */
  async restartUnresponsive(id: string, reason: string, seenUpdatedAt: string): Promise<boolean> {
    const failed = await this.queue(id).run(`unresponsive:${seenUpdatedAt}`, async () => {
      const c = this.o.computes.get(id);
      if (!c || c.state !== 'active' || c.updatedAt !== seenUpdatedAt) return false;
      c.lastError = reason;
      delete c.endpoint;
      this.transition(c, 'failed');
      this.o.logger.warn({ computeId: id, projectId: c.projectId, reason }, 'compute does not answer: failed, restarting it');
      await this.o.driver.suspend(id, 'stop').catch((err: unknown) =>
        this.o.logger.error({ err, computeId: id }, 'could not stop an unresponsive compute'),
      );
      return true;
    });
    if (failed) await this.wake(id, this.o.wakeTimeoutMs).catch((err: unknown) => this.o.logger.warn({ err, computeId: id }, 'restart of an unresponsive compute failed'));
    return failed;
  }

  /** Stops the compute, removes its storage and forgets its record. */
  async destroy(id: string): Promise<void> {
    await this.queue(id).run('destroy', async () => {
      const c = this.o.computes.get(id);
      try {
        await this.o.driver.destroy(id);
      } catch (err) {
        throw new ApiError(503, 'compute_destroy_failed', `compute ${id}${c ? ` of project '${c.projectId}'` : ''} could not be removed: ${message(err)}`, { cause: err });
      }
      if (c) this.o.onEvent?.({ computeId: id, projectId: c.projectId, state: 'deleted', at: Date.now() });
      this.o.computes.delete(id);
      this.lastWake.delete(id);
    });
    this.queues.delete(id);
  }

  /** After a restart, believe what the driver sees rather than what was saved. */
  async reconcile(): Promise<void> {
    await Promise.all(
      [...this.o.computes.values()].map(async (c) => {
        try {
          const seen = await this.o.driver.observe(c.id);
          if (seen.state === 'running' || seen.state === 'frozen') {
            if (seen.endpoint) c.endpoint = seen.endpoint;
            this.transition(c, seen.state === 'running' ? 'active' : 'frozen');
          } else {
            delete c.endpoint;
            this.transition(c, c.state === 'failed' ? 'failed' : 'stopped');
          }
        } catch (err) {
          c.lastError = `could not observe compute after restart: ${message(err)}`;
          this.transition(c, 'failed');
        }
      }),
    );
  }

  /** Cancels starts in flight, waits (bounded) for running operations, then closes the driver. */
  async close(stopComputes: boolean): Promise<void> {
    this.closing.abort();
    const settled = Promise.all([...this.queues.values()].map((q) => q.idle()));
    await withDeadline(settled, 20_000, () => new Error('compute operations still running after 20 s')).catch((err) =>
      this.o.logger.warn({ err }, 'closing with compute operations in flight'),
    );
    await this.o.driver.close({ stopComputes });
    if (!stopComputes) return;
    for (const c of this.o.computes.values()) {
      if (c.state !== 'stopped' && c.state !== 'failed') {
        delete c.endpoint;
        this.transition(c, 'stopped');
      }
    }
  }

  private async resumeNow(id: string): Promise<ComputeView> {
    const c = this.record(id);
    if (c.state === 'active') return computeView(c);
    const from = c.state;
    c.resumeCount++;
    this.transition(c, 'starting');
    const timeout = AbortSignal.timeout(this.o.wakeTimeoutMs);
    const began = performance.now();
    try {
      c.endpoint = await this.o.driver.resume(id, AbortSignal.any([timeout, this.closing.signal]));
    } catch (err) {
      const cause = timeout.aborted
        ? `did not start within ${this.o.wakeTimeoutMs} ms`
        : this.closing.signal.aborted
          ? 'start cancelled: the control plane is shutting down'
          : message(err).replace(`compute ${id}: `, ''); // the driver names the compute too; say it once
      c.lastError = cause;
      delete c.endpoint;
      this.transition(c, 'failed');
      this.o.logger.warn({ computeId: id, projectId: c.projectId, from, err }, 'compute failed to start');
      if (timeout.aborted) throw new ApiError(504, 'wake_timeout', `project '${c.projectId}': compute ${id} ${cause}`);
      throw new ApiError(503, 'compute_start_failed', `project '${c.projectId}': compute ${id} could not start: ${cause}`, { cause: err });
    }
    delete c.lastError;
    this.transition(c, 'active');
    const ms = Math.round(performance.now() - began);
    this.o.logger.info({ computeId: id, projectId: c.projectId, from, ms }, 'compute active');
    // A snapshot: an operation queued behind this one may change the record at once.
    return computeView(c);
  }

  private async suspendNow(id: string, requested: SuspendTier): Promise<ComputeView> {
    const c = this.record(id);
    if (c.state === 'stopped' || (requested === 'freeze' && c.state === 'frozen')) return computeView(c);
    // Only a serving process can be frozen; anything else (failed) is cleaned up by a stop.
    const tier: SuspendTier = requested === 'freeze' && c.state !== 'active' ? 'stop' : requested;
    if (c.state === 'active') await this.o.beforeSuspend?.(c);
    const from = c.state;
    if (tier === 'stop') this.transition(c, 'stopping');
    try {
      await this.o.driver.suspend(id, tier);
    } catch (err) {
      c.lastError = `could not ${tier === 'freeze' ? 'freeze' : 'stop'}: ${message(err)}`;
      this.transition(c, 'failed');
      throw new ApiError(503, 'compute_suspend_failed', `project '${c.projectId}': compute ${id} ${c.lastError}`, { cause: err });
    }
    if (tier === 'stop') delete c.endpoint;
    this.transition(c, tier === 'freeze' ? 'frozen' : 'stopped');
    this.o.logger.info({ computeId: id, projectId: c.projectId, from, tier }, 'compute suspended');
    return computeView(c);
  }

  private crashed(id: string, reason: string): void {
    const c = this.o.computes.get(id);
    if (!c || (c.state !== 'active' && c.state !== 'frozen')) return;
    c.lastError = reason;
    delete c.endpoint;
    this.transition(c, 'failed');
    this.o.logger.warn({ computeId: id, projectId: c.projectId, reason }, 'compute exited unexpectedly');
  }

  private record(id: string): ComputeRecord {
    const c = this.o.computes.get(id);
    if (!c) throw notFound('compute_not_found', `compute ${id} does not exist`);
    return c;
  }

  private queue(id: string): CoalescingQueue {
    let q = this.queues.get(id);
    if (!q) this.queues.set(id, (q = new CoalescingQueue()));
    return q;
  }

  private transition(c: ComputeRecord, state: ComputeState): void {
    c.state = state;
    c.updatedAt = new Date().toISOString();
    this.o.onEvent?.({ computeId: c.id, projectId: c.projectId, state, at: Date.parse(c.updatedAt) });
    this.o.persist().catch((err) => this.o.logger.error({ err, computeId: c.id }, 'could not save compute state'));
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The promise's outcome, or makeError()'s rejection after ms, whichever comes first. */
export function withDeadline<T>(p: Promise<T>, ms: number, makeError: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(makeError()), ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (err) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
