// Claims across control planes. Before it operates a compute, a control plane
// settles it: while another live control plane holds the compute's claim, it
// waits (a change notification or a short poll, whichever first); when the
// holder is dead, it takes the claim over and finishes what the holder was
// doing: a start is adopted or done again, a suspend is observed and recorded
// as it turned out, a removal is completed, a creation that never finished is
// undone (nobody was ever given its password).
import { ApiError } from './api-error.js';
import { bringUp, change, message, observeInto, tearDown, type OperationContext } from './compute-operations.js';
import type { ComputeOp, ComputeRecord } from './records.js';
import type { StateStore } from './store/state-store.js';

export interface ClaimContext extends OperationContext {
  /** Whether a control plane (instance id) still runs. */
  alive: (instance: string) => Promise<boolean>;
}

/** Re-read this often while another control plane operates a compute, in case a notification is missed. */
const POLL_MS = 100;

const DOING: Record<ComputeOp, string> = {
  'provision-project': 'created',
  provision: 'created',
  resume: 'started',
  freeze: 'frozen',
  stop: 'stopped',
  destroy: 'removed',
};

/**
 * The compute's row once no other live control plane holds its claim; undefined
 * if the compute is gone. Waits at most until `deadline` (Unix ms).
 */
export async function settle(ctx: ClaimContext, id: string, deadline: number): Promise<ComputeRecord | undefined> {
  for (;;) {
    const c = await ctx.store.getCompute(id);
    if (!c?.claim) return c;
    if (c.claim.holder !== ctx.me && (await ctx.alive(c.claim.holder))) {
      const left = deadline - Date.now();
      if (left <= 0 || ctx.closing.aborted) {
        throw new ApiError(504, 'compute_busy', `project '${c.projectId}': compute ${id} is still being ${DOING[c.claim.op]} by another control plane`);
      }
      await waitForChange(ctx.store, id, Math.min(POLL_MS, left), ctx.closing);
      continue;
    }
    // A dead holder's claim, or one of ours that an earlier failure left behind.
    await takeOver(ctx, c);
  }
}

/** Throws when the compute lives where this control plane's driver cannot reach it. */
export function ensureReachable(ctx: OperationContext, c: ComputeRecord): void {
  if (c.placement && c.placement !== ctx.driver.placement) {
    throw new ApiError(
      503,
      'compute_elsewhere',
      `project '${c.projectId}': compute ${c.id} lives at ${c.placement}; this control plane's driver is at ${ctx.driver.placement} and cannot operate it`,
    );
  }
}

async function takeOver(ctx: ClaimContext, c: ComputeRecord): Promise<void> {
  ensureReachable(ctx, c);
  const op = c.claim!.op;
  const mine = await change(ctx, c, { claim: { op, holder: ctx.me } });
  if (!mine) return; // someone else was first: re-read
  if (c.claim!.holder !== ctx.me) {
    ctx.logger.warn({ computeId: c.id, projectId: c.projectId, op, from: c.claim!.holder }, 'taking over the operation of a control plane that is gone');
  }
  try {
    if (op === 'resume') await bringUp(ctx, mine, true, 'stopped');
    else if (op === 'freeze' || op === 'stop') await observeInto(ctx, mine);
    else await undo(ctx, mine, op);
  } catch (err) {
    // Leave no claim of ours behind, or the next settle would take it over again and again.
    const now = await ctx.store.getCompute(c.id).catch(() => undefined);
    if (now?.claim?.holder === ctx.me) await change(ctx, now, { claim: null }).catch(() => undefined);
    throw err instanceof ApiError
      ? err
      : new ApiError(503, 'takeover_failed', `project '${c.projectId}': compute ${c.id}: could not finish what a gone control plane left: ${message(err)}`, { cause: err });
  }
}

/** A removal is finished; a creation is undone, with its project if the project was being created too. */
async function undo(ctx: ClaimContext, claimed: ComputeRecord, op: ComputeOp): Promise<void> {
  await tearDown(ctx, claimed);
  if (op === 'provision-project') await ctx.store.removeProject(claimed.projectId);
}

/** Resolves when the compute changes (here or, on PostgreSQL, anywhere), after ms, or on abort. */
export function waitForChange(store: StateStore, id: string, ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      off();
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    const off = store.onComputeChange((changed) => changed === id && done());
    signal.addEventListener('abort', done, { once: true });
  });
}
