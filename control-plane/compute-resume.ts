// The resume step of the compute state machine (compute-lifecycle.ts), run in
// the compute's queue: answer at once when the compute is active, else settle
// its claims, take the resume claim and bring the compute up. A frozen compute
// thaws at the size it has; a stopped or failed one starts at its project's
// minimum. The wake that asked for it waits at most its own timeout, named for
// the project, while the resume itself goes on for whoever waits next.
import { notFound, ApiError } from './api-error.js';
import { ensureReachable, settle, type ClaimContext } from './compute-claims.js';
import { bringUp, change } from './compute-operations.js';
import { MIN_CU_MILLI } from './compute-size.js';
import { computeView, type ComputeRecord, type ComputeState, type ComputeView } from './records.js';
import type { StateStore } from './store/state-store.js';

export interface ResumeContext extends ClaimContext {
  /** The size a compute starts at from stopped (its project's minimum), milli-CU; default the smallest size. */
  startSize?: (c: ComputeRecord) => Promise<number>;
}

/** With `onlyFrom`, a compute found in another state is answered as it is, not started. */
export async function resumeNow(ctx: ResumeContext, id: string, beforeStart?: () => Promise<void>, onlyFrom?: ComputeState): Promise<ComputeView> {
  // The fast path, one statement: active with no operation in flight (here or anywhere).
  const awake = await ctx.store.wakeIfActive(id, Date.now());
  if (awake) return computeView(awake);
  const deadline = Date.now() + ctx.wakeTimeoutMs;
  for (;;) {
    const c = await settle(ctx, id, deadline);
    if (!c) throw notFound('compute_not_found', `compute ${id} does not exist`);
    if (c.state === 'active') {
      const woken = await ctx.store.wakeIfActive(id, Date.now());
      if (woken) return computeView(woken);
      continue;
    }
    if (onlyFrom && c.state !== onlyFrom) return computeView(c);
    ensureReachable(ctx, c);
    await beforeStart?.();
    // A frozen compute thaws at the size it has; a stopped one starts at its project's minimum.
    const sizeMilli = c.state === 'frozen' ? c.sizeMilli : ((await ctx.startSize?.(c)) ?? MIN_CU_MILLI);
    const claimed = await change(ctx, c, { state: 'starting', claim: { op: 'resume', holder: ctx.me }, resumed: true, sizeMilli });
    if (!claimed) continue;
    const view = await bringUp(ctx, claimed, false, c.state);
    if (view) return view;
  }
}

/** The resume's answer, or a wake_timeout after `timeoutMs`; the resume is not cancelled. */
export async function withinWakeTimeout(store: StateStore, id: string, resumed: Promise<ComputeView>, timeoutMs: number): Promise<ComputeView> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      // Named for the project the caller knows; the read happens only on this slow path.
      void store.getCompute(id).then(
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
