// Resizing a running compute without a restart, in the order that never lets
// its server want more memory than its limit:
//
//   up:    raise the CPU and memory limits, then grow the buffer pool and max_connections;
//   down:  shrink the buffer pool (and max_connections) and wait until it has shrunk,
//          then lower the limits.
//
// A step that fails leaves the compute where it was: a grow whose SQL fails
// lowers the limits back; a shrink that does not finish in time leaves the
// limits up. The new size is recorded only once every step is done, and only
// against the same run of the compute (resizeRecorded, the lifecycle's resize
// step): a wake may have moved the record meanwhile, a restart not.
import { setTimeout as sleep } from 'node:timers/promises';
import { ensureReachable } from './compute-claims.js';
import { change, type OperationContext } from './compute-operations.js';
import { resourcesOf } from './compute-size.js';
import { ComputeSqlError, setServerSize, type ServerStatus } from './compute-server.js';
import type { ComputeDriver, LimitsOutcome } from './drivers/driver.js';
import type { ComputeRecord } from './records.js';
import type { LeaderFence } from './store/state-store.js';

/** A resize that was applied and recorded. */
export interface Resized {
  fromMilli: number;
  toMilli: number;
  limits: LimitsOutcome;
  ms: number;
}

export interface ResizeResult {
  limits: LimitsOutcome;
  server: ServerStatus;
}

/** MariaDB's "PROCEDURE ... does not exist" and "execute command denied": a compute provisioned before resizing existed. */
const NOT_RESIZABLE = new Set([1305, 1370]);

export class NotResizableError extends Error {
  override readonly name = 'NotResizableError';
}

export async function resizeRunning(
  driver: ComputeDriver,
  c: ComputeRecord,
  toMilli: number,
  o: { timeoutMs: number; signal: AbortSignal },
): Promise<ResizeResult> {
  if (!c.endpoint) throw new Error(`compute ${c.id} has no address`);
  if (!c.control) throw new NotResizableError(`compute ${c.id} was provisioned without a control account: it cannot be resized, only restarted at a new size`);
  const endpoint = c.endpoint;
  const login = c.control;
  const from = resourcesOf(c.sizeMilli);
  const to = resourcesOf(toMilli);
  const server = () =>
    setServerSize(endpoint, login, to, o.timeoutMs).catch((err: unknown) => {
      if (err instanceof ComputeSqlError && err.errno !== undefined && NOT_RESIZABLE.has(err.errno)) {
        throw new NotResizableError(`compute ${c.id} has no resize procedures (provisioned before autoscaling): ${err.message}`, { cause: err });
      }
      throw err;
    });
  if (toMilli >= c.sizeMilli) {
    // Also the same size: a reconcile after a change of leader sets everything again.
    const limits = await driver.applyLimits(c.id, to, o.signal);
    try {
      return { limits, server: await server() };
    } catch (err) {
      if (toMilli > c.sizeMilli) await driver.applyLimits(c.id, from, o.signal).catch(() => undefined);
      throw err;
    }
  }
  const status = await server();
  // The pool says it has shrunk; give the allocator a moment to hand pages back before the limit comes down.
  await sleep(50, undefined, { signal: o.signal });
  return { limits: await driver.applyLimits(c.id, to, o.signal), server: status };
}

/**
 * Resizes an active compute to `toMilli` and records it. Undefined when it is
 * not active (or another run of it is by the end); rejects when the resize
 * failed, the compute left at its old size.
 */
export async function resizeRecorded(ctx: OperationContext, id: string, toMilli: number, timeoutMs: number, fence?: LeaderFence): Promise<Resized | undefined> {
  const c = await ctx.store.getCompute(id);
  if (!c || c.state !== 'active' || c.claim || !c.endpoint || !ctx.selfAlive()) return undefined;
  ensureReachable(ctx, c);
  const began = performance.now();
  const signal = AbortSignal.any([AbortSignal.timeout(timeoutMs), ctx.closing]);
  const result = await resizeRunning(ctx.driver, c, toMilli, { timeoutMs, signal });
  // Recorded against the same run of the compute: a wake may have moved the version meanwhile, a restart not.
  for (;;) {
    const now = await ctx.store.getCompute(id);
    if (!now || now.state !== 'active' || now.claim || now.resumeCount !== c.resumeCount) return undefined;
    if (now.sizeMilli === toMilli && c.sizeMilli === toMilli) break;
    if (await change(ctx, now, { sizeMilli: toMilli }, fence)) break;
  }
  return { fromMilli: c.sizeMilli, toMilli, limits: result.limits, ms: Math.round(performance.now() - began) };
}
