// Find the project's compute awake (or wake it) and open a connection to it.
import { ProjectNotFoundError, WakeError } from '../control-client/errors.js';
import type { BackendAddress } from '../backend/address.js';
import { ClientError, ER_USER_LIMIT_REACHED, accessDenied, computeUnavailable, quotaExceeded } from './client-error.js';
import { limitKey, type Route } from './routing.js';
import type { SessionConfig } from './session-context.js';
import type { SessionLog } from './session-log.js';
import { PHASE, type ProxyMetrics } from './metrics.js';
import { TimeoutError, deadline } from '../util/deadline.js';
import { enterStateAt, type SessionState, type StateFields } from './session-state.js';
import type { AbortWatch } from '../util/abort.js';

/** How to open a connection once the address is known, and which failures are final. */
export interface Opener<T> {
  /** `abort` is the caller's signal, or else the session's own abort (an AbortWatch, not an AbortSignal). */
  open(addr: BackendAddress, abort: AbortWatch): Promise<T>;
  /** The compute answered (refused, denied): waking again would not help. */
  isFinal(err: unknown): boolean;
  /** Told the address that failed, before waking again. */
  onRetry?(addr: BackendAddress): void;
  /** What the session is doing while open() runs (pooled: waiting_for_connection); unchanged without one. */
  readonly connectingState?: SessionState;
}

/**
 * What the wake step needs of a session, and no more: a SessionContext is one,
 * and unit tests drive the step with a fake resolver and opener.
 */
export interface WakeContext extends Pick<StateFields, 'state' | 'stateSince'> {
  cfg: Pick<SessionConfig, 'resolver' | 'wakeTimeoutMs' | 'limits'> & {
    metrics: Pick<ProxyMetrics, 'wakeRequests' | 'connectPhase' | 'clientsWaiting'>;
  };
  log: Pick<SessionLog, 'warn'>;
  /** Aborted when the client leaves: the default for `signal`; its `signal` is made only for a wait that needs one. */
  abort: AbortWatch & { readonly signal: AbortSignal };
  clientAddress: string;
}

/**
 * A connect that fails drops the address and wakes once more: the compute may
 * have been suspended since the address was cached. `signal` stops the wait
 * (the client left); by default the session's own.
 */
export async function wakeAndConnect<T>(ctx: WakeContext, route: Route, opener: Opener<T>, signal?: AbortSignal): Promise<T> {
  const project = limitKey(route);
  const { resolver, metrics } = ctx.cfg;
  const abort: AbortWatch = signal ?? ctx.abort;
  for (let attempt = 1; ; attempt++) {
    // A client gone already: no wake starts for it (a shared one runs on regardless once asked for).
    if (abort.aborted) throw abort.reason;
    const addr = await waitForCompute(ctx, project, route, signal);
    const connectStarted = performance.now();
    if (opener.connectingState) enterStateAt(ctx, opener.connectingState, connectStarted);
    try {
      const conn = await opener.open(addr, abort);
      metrics.connectPhase.observe(PHASE.backendConnect, (performance.now() - connectStarted) / 1000);
      return conn;
    } catch (err) {
      if (opener.isFinal(err)) throw err;
      const failure = computeUnavailable(project, (err as Error).message, 'backend_connect_failed', err);
      // A client that left says nothing about the compute: its address (and its
      // pooled connections, which onRetry drops) stay for the other clients.
      if (abort.aborted) throw failure;
      resolver.invalidate(project, addr);
      opener.onRetry?.(addr);
      if (attempt >= 2) throw failure;
      ctx.log.warn({ err: (err as Error).message, host: addr.host, port: addr.port }, 'connect failed, waking again');
    }
  }
}

/** Hold the client while its compute wakes, within the wake bound and the per-project waiting limit. */
async function waitForCompute(ctx: WakeContext, project: string, route: Route, callers: AbortSignal | undefined): Promise<BackendAddress> {
  const { resolver, wakeTimeoutMs, metrics, limits } = ctx.cfg;
  // Known and fresh: the client does not wait, so no waiting slot, timer or signal.
  const known = resolver.cached?.(project);
  if (known) {
    metrics.wakeRequests.inc({ outcome: 'ok' });
    metrics.connectPhase.observe(PHASE.wake, 0);
    return known;
  }
  const signal = callers ?? ctx.abort.signal;
  const endWait = limits.admitWaiter(project);
  const bound = deadline(wakeTimeoutMs, signal);
  const started = performance.now();
  // Back to what it was afterwards, since when it was: the times already read serve (no clock read of its own).
  const before = ctx.state;
  const beforeSince = ctx.stateSince;
  enterStateAt(ctx, 'waiting_for_wake', started);
  metrics.clientsWaiting.inc();
  try {
    const addr = await resolver.resolve(project, bound.signal);
    metrics.wakeRequests.inc({ outcome: 'ok' });
    metrics.connectPhase.observe(PHASE.wake, (performance.now() - started) / 1000);
    return addr;
  } catch (err) {
    const failure = explainWakeFailure(ctx, project, route, err, signal);
    metrics.wakeRequests.inc({ outcome: failure instanceof ClientError ? failure.kind : 'client_left' });
    throw failure;
  } finally {
    bound.done();
    metrics.clientsWaiting.dec();
    enterStateAt(ctx, before, beforeSince);
    endWait();
  }
}

function explainWakeFailure(ctx: WakeContext, project: string, route: Route, err: unknown, signal: AbortSignal): Error {
  if (err instanceof ProjectNotFoundError) {
    // Same answer as a wrong password: do not reveal which projects exist.
    return accessDenied(route.backendUser, ctx.clientAddress, true);
  }
  if (err instanceof WakeError) {
    if (err.reason === 'rate_limited') {
      return new ClientError(ER_USER_LIMIT_REACHED, '42000', `Project '${project}': ${err.message}`, 'wake_rate_limited');
    }
    if (err.reason === 'quota_exceeded') return quotaExceeded(err.message, err);
    return computeUnavailable(project, err.message, `wake_${err.reason}`, err);
  }
  if (signal.aborted) return err as Error;
  if (err instanceof TimeoutError) {
    return computeUnavailable(project, `not ready within ${ctx.cfg.wakeTimeoutMs} ms`, 'wake_timeout', err);
  }
  return computeUnavailable(project, 'control plane error', 'wake_error', err);
}
