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
//
// This class owns the queues and the order of the steps; each step's body lives
// with its kind: compute-resume.ts, compute-suspend.ts, compute-resize.ts,
// compute-failures.ts (a crash, an unresponsive compute), and the driver-touching
// steps they share in compute-operations.ts.
import { ApiError } from './api-error.js';
import { CoalescingQueue } from './coalescing-queue.js';
import { ensureReachable, settle } from './compute-claims.js';
import { failUnresponsive, recordCrash } from './compute-failures.js';
import { change, ensureSteady, observeInto, tearDown, type ComputeTransition } from './compute-operations.js';
import { resizeRecorded, type Resized } from './compute-resize.js';
import { resumeNow, withinWakeTimeout, type ResumeContext } from './compute-resume.js';
import { suspendIfStill, suspendSettled, type SuspendContext } from './compute-suspend.js';
import type { ComputeDriver, SuspendTier } from './drivers/driver.js';
import type { Logger } from 'pino';
import { computeView, type ComputeRecord, type ComputeView, type IdleCandidate } from './records.js';
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

/** States in which a compute has a process someone must watch. */
const WATCHED = new Set(['active', 'frozen', 'starting', 'stopping']);

export class ComputeLifecycle {
  private readonly queues = new Map<string, CoalescingQueue>();
  private readonly closing = new AbortController();
  private readonly ctx: ResumeContext & SuspendContext;

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
      ...(opts.beforeSuspend ? { beforeSuspend: opts.beforeSuspend } : {}),
      ...(opts.startSize ? { startSize: opts.startSize } : {}),
    };
    opts.driver.onUnexpectedExit((id, reason) =>
      void recordCrash(this.ctx, id, reason).catch((err: unknown) => opts.logger.error({ err, computeId: id }, 'could not record a compute crash')),
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
    const resumed = this.queue(id).run('resume', () => resumeNow(this.ctx, id, beforeStart));
    return withinWakeTimeout(this.opts.store, id, resumed, timeoutMs);
  }

  /**
   * The idle scheduler's suspend: `stillIdle` is asked once no operation is in
   * flight, and the suspend applies only if nothing (a wake) changed the compute
   * since and the fence's leader still leads. Undefined if it did not happen.
   */
  suspendIf(id: string, tier: SuspendTier, stillIdle: (c: IdleCandidate) => Promise<boolean>, fence: LeaderFence): Promise<ComputeView | undefined> {
    const effective: SuspendTier = this.opts.driver.supportsFreeze ? tier : 'stop';
    return this.queue(id).run(`suspend-if-idle:${effective}`, () => suspendIfStill(this.ctx, id, effective, stillIdle, fence));
  }

  suspend(id: string, tier: SuspendTier): Promise<ComputeView> {
    const effective: SuspendTier = this.opts.driver.supportsFreeze ? tier : 'stop';
    return this.queue(id).run(`suspend:${effective}`, () => suspendSettled(this.ctx, id, effective));
  }

  /**
   * Resizes an active compute to `toMilli` without a restart (compute-resize.ts).
   * Undefined when it is not active (or another run of it is by the end);
   * rejects when the resize failed, the compute left at its old size.
   */
  resize(id: string, toMilli: number, fence?: LeaderFence): Promise<Resized | undefined> {
    return this.queue(id).run(`resize:${toMilli}`, () => resizeRecorded(this.ctx, id, toMilli, this.opts.resizeTimeoutMs ?? 30_000, fence));
  }

  /**
   * A health probe found the compute unresponsive (compute-prober.ts). If it is still
   * the active compute that was probed (unchanged since `seenUpdatedAt`, no operation in
   * flight) and the leader that probed still leads, it is reported failed and its
   * process stopped, in its queue; then woken again. False when it had changed.
   */
  async restartUnresponsive(id: string, reason: string, seenUpdatedAt: string, fence: LeaderFence): Promise<boolean> {
    const failed = await this.queue(id).run(`unresponsive:${seenUpdatedAt}`, () => failUnresponsive(this.ctx, id, reason, seenUpdatedAt, fence));
    if (failed) {
      // Started again only if still failed as left here: a stop asked meanwhile (here or on another
      // control plane) stays a stop, and a client's wake has already brought it up.
      await this.queue(id)
        .run('restart', () => resumeNow(this.ctx, id, undefined, 'failed'))
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
