// How a compute comes to be failed outside any operation of its own: its
// process exited when nobody stopped it (the driver tells), or the leader's
// health probe found it unresponsive (compute-prober.ts). Either is recorded
// only if the compute is still as it was seen, with no operation in flight:
// an operation (someone's stop, a wake) sees and answers the change itself.
// Restarting an unresponsive compute is the lifecycle's, in the compute's queue.
import { change, type OperationContext } from './compute-operations.js';
import type { LeaderFence } from './store/state-store.js';

/** The driver saw the compute's process exit unexpectedly: an active or frozen compute is now failed. */
export async function recordCrash(ctx: OperationContext, id: string, reason: string): Promise<void> {
  const c = await ctx.store.getCompute(id);
  // An operation in flight (someone's stop) sees the exit itself.
  if (!c || c.claim || (c.state !== 'active' && c.state !== 'frozen')) return;
  const failed = await change(ctx, c, { state: 'failed', lastError: reason, endpoint: null, owner: null });
  if (failed) ctx.logger.warn({ computeId: id, projectId: c.projectId, reason }, 'compute exited unexpectedly');
}

/**
 * Reports the compute failed and stops its process, if it is still the active
 * compute that was probed (unchanged since `seenUpdatedAt`, no operation in
 * flight) and the leader that probed still leads. False when it had changed.
 */
export async function failUnresponsive(ctx: OperationContext, id: string, reason: string, seenUpdatedAt: string, fence: LeaderFence): Promise<boolean> {
  const c = await ctx.store.getCompute(id);
  if (!c || c.claim || c.state !== 'active' || c.updatedAt !== seenUpdatedAt) return false;
  const marked = await change(ctx, c, { state: 'failed', lastError: reason, endpoint: null, owner: null }, fence);
  if (!marked) return false;
  ctx.logger.warn({ computeId: id, projectId: c.projectId, reason }, 'compute does not answer: failed, restarting it');
  await ctx.driver.suspend(id, 'stop').catch((err: unknown) => ctx.logger.error({ err, computeId: id }, 'could not stop an unresponsive compute'));
  return true;
}
