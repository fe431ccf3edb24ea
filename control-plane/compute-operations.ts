// The driver-touching steps of the compute state machine, each run by the
// control plane that holds the compute's claim (compute-lifecycle.ts): bring
// up, put down, observe, tear down. Each records its outcome and releases the
// claim in one change. A step never calls the driver unless this control plane
// is sure it is still alive by its own clock (selfAlive): once silent past its
// lease, others may have taken its claims over, and a driver call made then
// would act on a compute someone else now runs.
//
// When an outcome cannot be recorded because the claim was taken over (this
// control plane was counted dead, then came back), the step says so and the
// caller re-reads; nothing is retried blindly.
import type { Logger } from 'pino';
import { ApiError } from './api-error.js';
import { resourcesOf } from './compute-size.js';
import type { ComputeDriver, ComputeEndpoint, SuspendTier } from './drivers/driver.js';
import { computeView, type ComputeRecord, type ComputeState, type ComputeView } from './records.js';
import type { ComputeChange, LeaderFence, StateStore } from './store/state-store.js';

/** A state this control plane entered for a compute (or its removal). */
export interface ComputeTransition {
  computeId: string;
  projectId: string;
  state: ComputeState | 'deleted';
}

export interface OperationContext {
  store: StateStore;
  driver: ComputeDriver;
  /** This control plane's instance id: the holder of its claims. */
  me: string;
  /** Whether this control plane has written its heartbeat within the lease, by its own clock. */
  selfAlive: () => boolean;
  logger: Logger;
  /** Bound on one driver resume. */
  wakeTimeoutMs: number;
  /** Aborts starts in flight when the control plane closes. */
  closing: AbortSignal;
  /** Told every transition this control plane makes. */
  onTransition?: (t: ComputeTransition) => void;
}

/** Thrown when this control plane may not touch a compute now; the claim is released for others. */
export class NotSteadyError extends ApiError {
  constructor(c: ComputeRecord) {
    super(503, 'control_plane_unsteady', `project '${c.projectId}': compute ${c.id}: this control plane was silent past its lease; try again (another one may serve it)`);
  }
}

/**
 * Applies a change decided on `c` (compare-and-set on its version); undefined
 * if the row moved on. A fence is enforced; a bare epoch is only recorded.
 */
export async function change(ctx: OperationContext, c: ComputeRecord, ch: ComputeChange, fence?: LeaderFence | number): Promise<ComputeRecord | undefined> {
  const lead = typeof fence === 'number' ? { epoch: fence } : fence ? { fence } : {};
  const next = await ctx.store.changeCompute(c.id, c.version, ch, { at: Date.now(), by: ctx.me, ...lead });
  // Told also when a state is confirmed (an adoption): a compute found active is read like one just started.
  if (next && ch.state !== undefined) ctx.onTransition?.({ computeId: c.id, projectId: c.projectId, state: ch.state });
  return next;
}

/** Before a driver call under a claim: gives the claim back (to `revert`) and throws if this control plane may have been counted dead. */
export async function ensureSteady(ctx: OperationContext, claimed: ComputeRecord, revert: ComputeState): Promise<void> {
  if (ctx.selfAlive()) return;
  await change(ctx, claimed, { state: revert, claim: null }).catch(() => undefined);
  throw new NotSteadyError(claimed);
}

/**
 * Brings a claimed compute up: adopts what already runs when `adoptFirst`
 * (a start another control plane left), else resumes. Answers the active view,
 * or undefined if the claim was taken over meanwhile.
 */
export async function bringUp(ctx: OperationContext, claimed: ComputeRecord, adoptFirst: boolean, revert: ComputeState): Promise<ComputeView | undefined> {
  const id = claimed.id;
  await ensureSteady(ctx, claimed, revert);
  const timeout = AbortSignal.timeout(ctx.wakeTimeoutMs);
  const signal = AbortSignal.any([timeout, ctx.closing]);
  const began = performance.now();
  let endpoint: ComputeEndpoint;
  try {
    const seen = adoptFirst ? await ctx.driver.adopt(id, signal) : undefined;
    endpoint = seen?.state === 'running' && seen.endpoint ? seen.endpoint : await ctx.driver.resume(id, signal, resourcesOf(claimed.sizeMilli));
  } catch (err) {
    const cause = timeout.aborted
      ? `did not start within ${ctx.wakeTimeoutMs} ms`
      : ctx.closing.aborted
        ? 'start cancelled: the control plane is shutting down'
        : message(err).replace(`compute ${id}: `, ''); // the driver names the compute too; say it once
    await change(ctx, claimed, { state: 'failed', claim: null, lastError: cause, endpoint: null, owner: null });
    ctx.logger.warn({ computeId: id, projectId: claimed.projectId, err }, 'compute failed to start');
    if (timeout.aborted) throw new ApiError(504, 'wake_timeout', `project '${claimed.projectId}': compute ${id} ${cause}`);
    throw new ApiError(503, 'compute_start_failed', `project '${claimed.projectId}': compute ${id} could not start: ${cause}`, { cause: err });
  }
  const active = await change(ctx, claimed, {
    state: 'active',
    claim: null,
    endpoint,
    lastError: null,
    owner: ctx.me,
    placement: ctx.driver.placement,
    wokenAt: Date.now(),
    // What the driver really started it at, when that is not what was asked.
    ...(endpoint.sizeMilli !== undefined ? { sizeMilli: endpoint.sizeMilli } : {}),
  });
  if (!active) {
    ctx.logger.warn({ computeId: id, projectId: claimed.projectId }, 'started a compute whose claim another control plane took over meanwhile');
    return undefined;
  }
  ctx.logger.info({ computeId: id, projectId: claimed.projectId, ms: Math.round(performance.now() - began), adopted: adoptFirst }, 'compute active');
  return computeView(active);
}

/**
 * Suspends a claimed compute; the outcome is recorded unfenced, since it is
 * what happened (with the leader's epoch for the record, when the leader
 * decided it). Undefined if the claim was taken over.
 */
export async function putDown(ctx: OperationContext, claimed: ComputeRecord, tier: SuspendTier, revert: ComputeState, epoch?: number): Promise<ComputeView | undefined> {
  const id = claimed.id;
  await ensureSteady(ctx, claimed, revert);
  try {
    await ctx.driver.suspend(id, tier);
  } catch (err) {
    const lastError = `could not ${tier === 'freeze' ? 'freeze' : 'stop'}: ${message(err)}`;
    await change(ctx, claimed, { state: 'failed', claim: null, lastError }, epoch);
    throw new ApiError(503, 'compute_suspend_failed', `project '${claimed.projectId}': compute ${id} ${lastError}`, { cause: err });
  }
  const done = await change(ctx, claimed, tier === 'freeze' ? { state: 'frozen', claim: null } : { state: 'stopped', claim: null, endpoint: null, owner: null }, epoch);
  if (!done) {
    ctx.logger.warn({ computeId: id, projectId: claimed.projectId, tier }, 'suspended a compute whose claim another control plane took over meanwhile');
    return undefined;
  }
  ctx.logger.info({ computeId: id, projectId: claimed.projectId, from: revert, tier }, 'compute suspended');
  return computeView(done);
}

/** Records what the driver sees (adopting it) and releases the claim or, without one, takes ownership. */
export async function observeInto(ctx: OperationContext, c: ComputeRecord): Promise<ComputeRecord | undefined> {
  if (c.claim) await ensureSteady(ctx, c, c.state);
  const seen = await ctx.driver.adopt(c.id, AbortSignal.any([AbortSignal.timeout(ctx.wakeTimeoutMs), ctx.closing]));
  const ch: ComputeChange =
    seen.state === 'running'
      ? { state: 'active', endpoint: seen.endpoint ?? null, owner: ctx.me, placement: ctx.driver.placement }
      : seen.state === 'frozen'
        ? { state: 'frozen', owner: ctx.me, placement: ctx.driver.placement, ...(seen.endpoint ? { endpoint: seen.endpoint } : {}) }
        : { state: c.state === 'failed' ? 'failed' : 'stopped', endpoint: null, owner: null };
  return change(ctx, c, { ...ch, ...(c.claim ? { claim: null } : {}) });
}

/** Stops the compute, removes its storage and its row (unlinking its project). */
export async function tearDown(ctx: OperationContext, claimed: ComputeRecord): Promise<boolean> {
  await ensureSteady(ctx, claimed, claimed.state);
  try {
    await ctx.driver.destroy(claimed.id);
  } catch (err) {
    await change(ctx, claimed, { claim: null }).catch(() => undefined);
    throw new ApiError(503, 'compute_destroy_failed', `compute ${claimed.id} of project '${claimed.projectId}' could not be removed: ${message(err)}`, { cause: err });
  }
  const removed = await ctx.store.removeCompute(claimed.id, claimed.version, { at: Date.now(), by: ctx.me });
  if (removed) ctx.onTransition?.({ computeId: claimed.id, projectId: claimed.projectId, state: 'deleted' });
  return removed;
}

export function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
