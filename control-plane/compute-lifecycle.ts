// The compute state machine over a driver, shared by every control plane on
// the store:
//
//   stopped | frozen | failed --resume--> starting --> active | failed
//   active --freeze--> frozen        active | frozen | failed --stop--> stopping --> stopped
//   active | frozen --crash--> failed
//
// Inside one control plane, every operation on a compute goes through that
// compute's CoalescingQueue: twenty wakes make one resume, a wake queued behind
// a suspend resumes what the suspend left. Across control planes, the store's
// claims do the same (compute-claims.ts): an operation starts with a
// compare-and-set that claims the compute, so of two control planes asked to
// wake it at once one starts it and the other waits for the answer.
//
// The wake's fast path (an active compute) is one statement in the store; when
// only resizes are in the compute's queue it runs at once, without waiting
// behind them: the compute serves throughout a resize.
//
// Resizes (the autoscaler's, or a change of range) run in the queue too, so a
// suspend never interleaves with one; they need no claim, since the compute
// serves throughout, and are recorded only if the same run of the compute is
// still active when they finish.
import { notFound, ApiError } from './api-error.js';
import { CoalescingQueue } from './coalescing-queue.js';
import { ensureReachable, settle, type ClaimContext } from './compute-claims.js';
import { bringUp, change, ensureSteady, observeInto, putDown, tearDown, type ComputeTransition } from './compute-operations.js';
import { resizeRunning } from './compute-resize.js';
import { MIN_CU_MILLI } from './compute-size.js';
import type { ComputeDriver, LimitsOutcome, SuspendTier } from './drivers/driver.js';
import type { Logger } from 'pino';
import { computeView, idleCandidate, type ComputeRecord, type ComputeState, type ComputeView, type IdleCandidate } from './records.js';
import { withDeadline } from '../util/deadline.js';
import type { LeaderFence, StateStore } from './store/state-store.js';

export interface ComputeLifecycleOptions {
  store: StateStore;
  driver: ComputeDriver;
  /** This control plane's instance id. */
  me: string;
  alive: (instance: string) => Promise<boolean>;
  selfAlive: () => boolean;
  logger: Logger;
  /** Bound on one driver resume, whoever waits for it. */
  wakeTimeoutMs: number;
  /** Told every transition this control plane makes (role reading). */
  onTransition?: (t: ComputeTransition) => void;
  /** Awaited before an active compute is suspended (role reading); must be bounded and not throw. */
  beforeSuspend?: (c: ComputeRecord) => Promise<void>;
  /** The size a compute starts at from stopped (its project's minimum), milli-CU; default the smallest size. */
  startSize?: (c: ComputeRecord) => Promise<number>;
  /** Bound on one resize, a shrink's wait for the buffer pool included; default 30000. */
  resizeTimeoutMs?: number;
}

/** A resize that was applied and recorded. */
export interface Resized {
  fromMilli: number;
  toMilli: number;
  limits: LimitsOutcome;
  ms: number;
}

/** States in which a compute has a process someone must watch. */
const WATCHED = new Set(['active', 'frozen', 'starting', 'stopping']);

export class ComputeLifecycle {
  private readonly queues = new Map<string, CoalescingQueue>();
  private readonly closing = new AbortController();
  private readonly ctx: ClaimContext;

  constructor(private readonly opts: ComputeLifecycleOptions) {
    this.ctx = {
      store: opts.store,
      driver: opts.driver,
      me: opts.me,
      alive: opts.alive,
      selfAlive: opts.selfAlive,
      logger: opts.logger,
      wakeTimeoutMs: opts.wakeTimeoutMs,
      closing: this.closing.signal,
      ...(opts.onTransition ? { onTransition: opts.onTransition } : {}),
    };
    opts.driver.onUnexpectedExit((id, reason) =>
      void this.crashed(id, reason).catch((err: unknown) => opts.logger.error({ err, computeId: id }, 'could not record a compute crash')),
    );
  }

  /**
   * Brings the compute to active; waits at most timeoutMs (the resume itself
   * may go on for later callers). Queued in arrival order with the compute's
   * other operations, so a wake asked after a suspend resumes what it left.
   */
  async wake(id: string, timeoutMs: number, beforeStart?: () => Promise<void>): Promise<ComputeView> {
    if (this.queue(id).busyOnly((key) => key.startsWith('resize:'))) {
      const awake = await this.opts.store.wakeIfActive(id, Date.now());
      if (awake) return computeView(awake);
    }
    const resumed = this.queue(id).run('resume', () => this.resumeNow(id, beforeStart));
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        // Named for the project the caller knows; the read happens only on this slow path.
        void this.opts.store.getCompute(id).then(
          (c) => reject(new ApiError(504, 'wake_timeout', `project '${c?.projectId ?? '?'}': compute ${id} was not active within ${timeoutMs} ms`)),
          (err: unknown) => reject(err),
        );
      }, timeoutMs);
    });
    try {
      return await Promise.race([resumed, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * The idle scheduler's suspend: `stillIdle` is asked once no operation is in
   * flight, and the suspend applies only if nothing (a wake) changed the compute
   * since and the fence's leader still leads. Undefined if it did not happen.
   */
  suspendIf(id: string, tier: SuspendTier, stillIdle: (c: IdleCandidate) => Promise<boolean>, fence: LeaderFence): Promise<ComputeView | undefined> {
    const effective: SuspendTier = this.opts.driver.supportsFreeze ? tier : 'stop';
    return this.queue(id).run(`suspend-if-idle:${effective}`, async () => {
      const c = await settle(this.ctx, id, Date.now() + this.opts.wakeTimeoutMs);
      if (!c || !(await stillIdle(idleCandidate(c)))) return undefined;
      return this.suspendNow(c, effective, fence);
    });
  }

  suspend(id: string, tier: SuspendTier): Promise<ComputeView> {
    const effective: SuspendTier = this.opts.driver.supportsFreeze ? tier : 'stop';
    return this.queue(id).run(`suspend:${effective}`, async () => {
      for (;;) {
        const c = await settle(this.ctx, id, Date.now() + this.opts.wakeTimeoutMs);
        if (!c) throw notFound('compute_not_found', `compute ${id} does not exist`);
        const view = await this.suspendNow(c, effective);
        if (view) return view;
      }
    });
  }

  /**
   * Resizes an active compute to `toMilli` without a restart (compute-resize.ts).
   * Undefined when it is not active (or another run of it is by the end);
   * rejects when the resize failed, the compute left at its old size.
   */
  resize(id: string, toMilli: number, fence?: LeaderFence): Promise<Resized | undefined> {
    return this.queue(id).run(`resize:${toMilli}`, async () => {
      const c = await this.opts.store.getCompute(id);
      if (!c || c.state !== 'active' || c.claim || !c.endpoint || !this.opts.selfAlive()) return undefined;
      ensureReachable(this.ctx, c);
      const began = performance.now();
      const signal = AbortSignal.any([AbortSignal.timeout(this.opts.resizeTimeoutMs ?? 30_000), this.closing.signal]);
      const result = await resizeRunning(this.opts.driver, c, toMilli, { timeoutMs: this.opts.resizeTimeoutMs ?? 30_000, signal });
      // Recorded against the same run of the compute: a wake may have moved the version meanwhile, a restart not.
      for (;;) {
        const now = await this.opts.store.getCompute(id);
        if (!now || now.state !== 'active' || now.claim || now.resumeCount !== c.resumeCount) return undefined;
        if (now.sizeMilli === toMilli && c.sizeMilli === toMilli) break;
        if (await change(this.ctx, now, { sizeMilli: toMilli }, fence)) break;
      }
      return { fromMilli: c.sizeMilli, toMilli, limits: result.limits, ms: Math.round(performance.now() - began) };
    });
  }

  /**
   * A health probe found the compute unresponsive (compute-prober.ts). If it is still
   * the active compute that was probed (unchanged since `seenUpdatedAt`, no operation in
   * flight) and the leader that probed still leads, it is reported failed and its
   * process stopped, in its queue; then woken again. False when it had changed.
   */
  async restartUnresponsive(id: string, reason: string, seenUpdatedAt: string, fence: LeaderFence): Promise<boolean> {
    const failed = await this.queue(id).run(`unresponsive:${seenUpdatedAt}`, async () => {
      const c = await this.opts.store.getCompute(id);
      if (!c || c.claim || c.state !== 'active' || c.updatedAt !== seenUpdatedAt) return false;
      const marked = await change(this.ctx, c, { state: 'failed', lastError: reason, endpoint: null, owner: null }, fence);
      if (!marked) return false;
      this.opts.logger.warn({ computeId: id, projectId: c.projectId, reason }, 'compute does not answer: failed, restarting it');
      await this.opts.driver.suspend(id, 'stop').catch((err: unknown) =>
        this.opts.logger.error({ err, computeId: id }, 'could not stop an unresponsive compute'),
      );
      return true;
    });
    if (failed) {
      // Started again only if still failed as left here: a stop asked meanwhile (here or on another
      // control plane) stays a stop, and a client's wake has already brought it up.
      await this.queue(id)
        .run('restart', () => this.resumeNow(id, undefined, 'failed'))
        .catch((err: unknown) => this.opts.logger.warn({ err, computeId: id }, 'restart of an unresponsive compute failed'));
    }
    return failed;
  }

  /** Stops the compute, removes its storage and its record. */
  async destroy(id: string): Promise<void> {
    await this.queue(id).run('destroy', async () => {
      for (;;) {
        const c = await settle(this.ctx, id, Date.now() + this.opts.wakeTimeoutMs);
        if (!c) return;
        ensureReachable(this.ctx, c);
        const claimed = await change(this.ctx, c, { claim: { op: 'destroy', holder: this.opts.me } });
        if (claimed && (await tearDown(this.ctx, claimed))) return;
      }
    });
    this.queues.delete(id);
  }

  /**
   * Provisions a compute inserted with a provision claim, then releases the
   * claim; on failure removes the compute (and the project it was created with).
   */
  provision(c: ComputeRecord, provision: () => Promise<void>): Promise<ComputeRecord> {
    return this.queue(c.id).run('provision', async () => {
      try {
        await ensureSteady(this.ctx, c, c.state);
        await provision();
      } catch (err) {
        await this.undoCreation(c).catch((undoErr: unknown) =>
          this.opts.logger.error({ err: undoErr, computeId: c.id, projectId: c.projectId }, 'could not undo a failed creation'),
        );
        throw err;
      }
      const released = await change(this.ctx, c, { claim: null });
      if (!released) {
        throw new ApiError(503, 'provision_interrupted', `project '${c.projectId}': compute ${c.id}: another control plane took the creation over; try again`);
      }
      return released;
    });
  }

  /**
   * The leader's adoption of one compute: a claim left by a gone control plane
   * is taken over; a running or frozen compute nobody alive watches is observed
   * and watched from now on.
   */
  adopt(id: string): Promise<void> {
    return this.queue(id).run('adopt', async () => {
      const now = await this.opts.store.getCompute(id);
      // A live control plane is operating it: nothing to adopt, and no reason to wait.
      if (!now || (now.claim && now.claim.holder !== this.opts.me && (await this.opts.alive(now.claim.holder)))) return;
      const c = await settle(this.ctx, id, Date.now() + this.opts.wakeTimeoutMs);
      if (!c || c.claim || !WATCHED.has(c.state)) return;
      if (c.owner && (await this.opts.alive(c.owner))) return;
      if (c.placement && c.placement !== this.opts.driver.placement) return;
      const seen = await observeInto(this.ctx, c);
      if (seen) this.opts.logger.info({ computeId: id, projectId: c.projectId, state: seen.state, from: c.owner ?? 'nobody' }, 'compute adopted');
    });
  }

  /** Cancels starts in flight, waits (bounded) for running operations, then closes the driver. */
  async close(stopComputes: boolean): Promise<void> {
    this.closing.abort();
    const settled = Promise.all([...this.queues.values()].map((q) => q.idle()));
    await withDeadline(settled, 20_000, () => new Error('compute operations still running after 20 s')).catch((err) =>
      this.opts.logger.warn({ err }, 'closing with compute operations in flight'),
    );
    await this.opts.driver.close({ stopComputes });
    if (!stopComputes) return;
    for (const c of await this.opts.store.listComputes()) {
      if (c.state === 'stopped' || c.state === 'failed' || (c.placement && c.placement !== this.opts.driver.placement)) continue;
      await change(this.ctx, c, { state: 'stopped', claim: null, endpoint: null, owner: null }).catch((err: unknown) =>
        this.opts.logger.warn({ err, computeId: c.id }, 'could not record a compute stopped at close'),
      );
    }
  }

  /** With `onlyFrom`, a compute found in another state is answered as it is, not started. */
  private async resumeNow(id: string, beforeStart?: () => Promise<void>, onlyFrom?: ComputeState): Promise<ComputeView> {
    // The fast path, one statement: active with no operation in flight (here or anywhere).
    const awake = await this.opts.store.wakeIfActive(id, Date.now());
    if (awake) return computeView(awake);
    const deadline = Date.now() + this.opts.wakeTimeoutMs;
    for (;;) {
      const c = await settle(this.ctx, id, deadline);
      if (!c) throw notFound('compute_not_found', `compute ${id} does not exist`);
      if (c.state === 'active') {
        const woken = await this.opts.store.wakeIfActive(id, Date.now());
        if (woken) return computeView(woken);
        continue;
      }
      if (onlyFrom && c.state !== onlyFrom) return computeView(c);
      ensureReachable(this.ctx, c);
      await beforeStart?.();
      // A frozen compute thaws at the size it has; a stopped one starts at its project's minimum.
      const sizeMilli = c.state === 'frozen' ? c.sizeMilli : ((await this.opts.startSize?.(c)) ?? MIN_CU_MILLI);
      const claimed = await change(this.ctx, c, { state: 'starting', claim: { op: 'resume', holder: this.opts.me }, resumed: true, sizeMilli });
      if (!claimed) continue;
      const view = await bringUp(this.ctx, claimed, false, c.state);
      if (view) return view;
    }
  }

  /** Undefined when the compute changed before it could be claimed (or the claim was taken over). */
  private async suspendNow(c: ComputeRecord, requested: SuspendTier, fence?: LeaderFence): Promise<ComputeView | undefined> {
    if (c.state === 'stopped' || (requested === 'freeze' && c.state === 'frozen')) return computeView(c);
    ensureReachable(this.ctx, c);
    // Only a serving process can be frozen; anything else (failed) is cleaned up by a stop.
    const tier: SuspendTier = requested === 'freeze' && c.state !== 'active' ? 'stop' : requested;
    if (c.state === 'active') await this.opts.beforeSuspend?.(c);
    const claimed = await change(this.ctx, c, { state: tier === 'stop' ? 'stopping' : c.state, claim: { op: tier, holder: this.opts.me } }, fence);
    if (!claimed) return undefined;
    return putDown(this.ctx, claimed, tier, c.state, fence?.epoch);
  }

  private async crashed(id: string, reason: string): Promise<void> {
    const c = await this.opts.store.getCompute(id);
    // An operation in flight (someone's stop) sees the exit itself.
    if (!c || c.claim || (c.state !== 'active' && c.state !== 'frozen')) return;
    const failed = await change(this.ctx, c, { state: 'failed', lastError: reason, endpoint: null, owner: null });
    if (failed) this.opts.logger.warn({ computeId: id, projectId: c.projectId, reason }, 'compute exited unexpectedly');
  }

  private async undoCreation(c: ComputeRecord): Promise<void> {
    const now = await this.opts.store.getCompute(c.id);
    if (now?.claim?.holder !== this.opts.me) return; // already undone by another control plane
    await tearDown(this.ctx, now);
    if (c.claim?.op === 'provision-project') await this.opts.store.removeProject(c.projectId);
  }

  private queue(id: string): CoalescingQueue {
    let q = this.queues.get(id);
    if (!q) this.queues.set(id, (q = new CoalescingQueue()));
    return q;
  }
}
