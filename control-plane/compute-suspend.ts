// The suspend step of the compute state machine (compute-lifecycle.ts), run in
// the compute's queue: settle the compute's claims, take the suspend claim and
// put the compute down, frozen (memory kept) or stopped. An active compute's
// roles are read first (beforeSuspend), while it still answers. The idle
// scheduler's and the quota enforcer's suspends are fenced: they apply only if
// nothing changed the compute since they decided and their leader still leads.
import { notFound } from './api-error.js';
import { ensureReachable, settle, type ClaimContext } from './compute-claims.js';
import { change, putDown } from './compute-operations.js';
import type { SuspendTier } from './drivers/driver.js';
import { computeView, idleCandidate, type ComputeRecord, type ComputeView, type IdleCandidate } from './records.js';
import type { LeaderFence } from './store/state-store.js';

export interface SuspendContext extends ClaimContext {
  /** Awaited before an active compute is suspended (role reading); must be bounded and not throw. */
  beforeSuspend?: (c: ComputeRecord) => Promise<void>;
}

/** Suspends the compute as it is once settled, whatever it was doing; rejects if it does not exist. */
export async function suspendSettled(ctx: SuspendContext, id: string, tier: SuspendTier): Promise<ComputeView> {
  for (;;) {
    const c = await settle(ctx, id, Date.now() + ctx.wakeTimeoutMs);
    if (!c) throw notFound('compute_not_found', `compute ${id} does not exist`);
    const view = await suspendNow(ctx, c, tier);
    if (view) return view;
  }
}

/** `stillIdle` is asked once the compute is settled; undefined if the suspend did not happen. */
export async function suspendIfStill(
  ctx: SuspendContext,
  id: string,
  tier: SuspendTier,
  stillIdle: (c: IdleCandidate) => Promise<boolean>,
  fence: LeaderFence,
): Promise<ComputeView | undefined> {
  const c = await settle(ctx, id, Date.now() + ctx.wakeTimeoutMs);
  if (!c || !(await stillIdle(idleCandidate(c)))) return undefined;
  return suspendNow(ctx, c, tier, fence);
}

/** Undefined when the compute changed before it could be claimed (or the claim was taken over). */
async function suspendNow(ctx: SuspendContext, c: ComputeRecord, requested: SuspendTier, fence?: LeaderFence): Promise<ComputeView | undefined> {
  if (c.state === 'stopped' || (requested === 'freeze' && c.state === 'frozen')) return computeView(c);
  ensureReachable(ctx, c);
  // Only a serving process can be frozen; anything else (failed) is cleaned up by a stop.
  const tier: SuspendTier = requested === 'freeze' && c.state !== 'active' ? 'stop' : requested;
  if (c.state === 'active') await ctx.beforeSuspend?.(c);
  const claimed = await change(ctx, c, { state: tier === 'stop' ? 'stopping' : c.state, claim: { op: tier, holder: ctx.me } }, fence);
  if (!claimed) return undefined;
  return putDown(ctx, claimed, tier, c.state, fence?.epoch);
}
