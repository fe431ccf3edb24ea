// How a pool is configured, and the checks it runs on its connections.
import type { Logger } from 'pino';
import { pingBackend, readBaseline, resetBackend, type HealthCheck, type SessionBaseline } from '../backend/health.js';
import type { CommandTarget } from '../backend/query.js';

/**
 * Transaction pooling's grow delay unless configured (pool-growth.ts). Measured on 2
 * shared cores against MariaDB 10.11: a new pooled login costs 1-2 ms alone, 3-10 ms
 * when several run at once, 10-60 ms in a burst of logins on a loaded machine, while a
 * statement gives its connection back within 0.1-1 ms (tens of ms at p99 under load).
 * 20 ms is what a login costs when it is needed most, a burst: waiting about that long
 * before paying for one bounds what a waiter loses, and most waits end long before.
 */
export const TRANSACTION_GROW_DELAY_MS = 20;

/**
 * The grow delay of a pool mode unless configured: transaction pooling lends a connection
 * per statement, so one comes back soon; session pooling lends it for a whole session.
 */
export function defaultGrowDelayMs(mode: 'session' | 'transaction'): number {
  return mode === 'transaction' ? TRANSACTION_GROW_DELAY_MS : 0;
}

export interface BackendPoolOptions {
  /** Open connections per compute, over all its users and databases. */
  maxPerCompute: number;
  /** An idle connection is closed after this long unused. */
  idleTimeoutMs: number;
  /** How long acquire() waits for a free connection slot (not counting the login). */
  acquireTimeoutMs: number;
  /**
   * With a positive delay, a borrower of a key whose connections are all lent waits for
   * one to come back, and the compute opens another only for waiting that lasts, at most
   * one per delay (pool-growth.ts). Default 0: a borrower that finds nothing idle opens
   * a connection at once, as session pooling wants (connections held for whole sessions).
   */
  growDelayMs?: number;
  logger: Logger;
  /** Bound on a reset and the post-login check. Default 5 s. */
  resetTimeoutMs?: number;
  /**
   * A connection idle longer than this is pinged before it is handed out. Default 1 s:
   * a compute that stopped answering (frozen outside the control plane, wedged) must
   * be caught before a statement waits on it without bound, and a connection used
   * within the last second was answering then.
   */
  pingAfterIdleMs?: number;
  /** Bound on that ping. Default 2 s; a ping that times out fails the borrow (the compute does not answer). */
  pingTimeoutMs?: number;
  /** How often the janitor runs (eviction, forgetting empty pools). Default min(idleTimeoutMs, 5 s). */
  evictionIntervalMs?: number;
  /** The commands the pool runs on its connections; backend/health.ts unless a test says otherwise. */
  checks?: PoolChecks;
}

export interface ReleaseOptions {
  dirty: boolean;
  /** Default true. */
  reset?: boolean;
}

/**
 * What the pool asks of a connection: its state right after login, a reset that checks
 * it came back to that state, a ping. Each is bounded by `timeoutMs`.
 */
export interface PoolChecks {
  readBaseline(target: CommandTarget, timeoutMs: number, statementTime?: string | null): Promise<SessionBaseline>;
  reset(target: CommandTarget, database: string | null, baseline: SessionBaseline, timeoutMs: number): Promise<HealthCheck>;
  ping(target: CommandTarget, timeoutMs: number): Promise<HealthCheck>;
}

export const COMPUTE_CHECKS: PoolChecks = { readBaseline, reset: resetBackend, ping: pingBackend };

/** The options with every default filled in. */
export interface PoolSettings {
  maxPerCompute: number;
  idleTimeoutMs: number;
  acquireTimeoutMs: number;
  growDelayMs: number;
  resetTimeoutMs: number;
  pingAfterIdleMs: number;
  pingTimeoutMs: number;
  evictionIntervalMs: number;
  checks: PoolChecks;
  log: Logger;
}

export function poolSettings(opts: BackendPoolOptions): PoolSettings {
  if (!(opts.maxPerCompute >= 1)) throw new RangeError(`maxPerCompute must be at least 1, not ${opts.maxPerCompute}`);
  if (!((opts.growDelayMs ?? 0) >= 0)) throw new RangeError(`growDelayMs must not be negative, not ${opts.growDelayMs}`);
  return {
    maxPerCompute: opts.maxPerCompute,
    idleTimeoutMs: opts.idleTimeoutMs,
    acquireTimeoutMs: opts.acquireTimeoutMs,
    growDelayMs: opts.growDelayMs ?? 0,
    resetTimeoutMs: opts.resetTimeoutMs ?? 5_000,
    pingAfterIdleMs: opts.pingAfterIdleMs ?? 1_000,
    pingTimeoutMs: opts.pingTimeoutMs ?? 2_000,
    evictionIntervalMs: opts.evictionIntervalMs ?? Math.max(10, Math.min(opts.idleTimeoutMs, 5_000)),
    checks: opts.checks ?? COMPUTE_CHECKS,
    log: opts.logger.child({ component: 'backend-pool' }),
  };
}
