// What BackendPools.acquire() rejects with when the pool, not the login, says no (a
// login's own failure reaches its borrower as the login threw it). Each message names
// the compute and the user, never a credential: the proxy passes a PoolTimeoutError's
// message on in the client's "Too many connections", and logs the others with the
// session's connection id. Kept apart from the pool so the classes callers test with
// instanceof and the messages they carry sit in one place.
import type { BackendKey } from '../backend/login.js';

/** acquire() waited acquireTimeoutMs: names the compute, the user and the limit. */
export class PoolTimeoutError extends Error {
  override readonly name = 'PoolTimeoutError';
}

/** The compute was dropped (suspended) while a borrower waited for it. */
export class ComputeDroppedError extends Error {
  override readonly name = 'ComputeDroppedError';
}

/** An idle connection's ping got no answer within pingTimeoutMs: the compute is frozen or wedged. */
export class ComputeUnresponsiveError extends Error {
  override readonly name = 'ComputeUnresponsiveError';
}

export class PoolClosedError extends Error {
  override readonly name = 'PoolClosedError';
  constructor() {
    super('backend pool is closed');
  }
}

export function poolTimeout(key: BackendKey, compute: string, waitedMs: number, open: number, max: number): PoolTimeoutError {
  return new PoolTimeoutError(
    `no backend connection for user '${key.user}' on compute ${compute} ` +
      `within ${waitedMs} ms: ${open} of ${max} allowed connections open`,
  );
}

export function computeDropped(key: BackendKey, compute: string): ComputeDroppedError {
  return new ComputeDroppedError(`compute ${compute} was suspended while user '${key.user}' waited for it`);
}

export function computeUnresponsive(key: BackendKey, compute: string, pingTimeoutMs: number): ComputeUnresponsiveError {
  return new ComputeUnresponsiveError(`compute ${compute} did not answer a ping within ${pingTimeoutMs} ms (user '${key.user}')`);
}
