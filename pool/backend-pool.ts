// Backend connections kept for reuse: pools per key (compute, user, database, negotiated
// capabilities, charset), a connection limit per compute across its keys, a reset on
// every return, and everything of a compute dropped when it is suspended.
//
// A connection's life: empty slot (key-pool.ts) -> permit from its compute -> login
// (backend/login.ts) -> baseline read -> borrowed -> reset and state check on release
// (backend/health.ts) -> idle and watched (pooled-backend.ts) -> borrowed again, or
// destroyed: dirty, failed reset, dead, evicted, or its compute dropped.
import type { Logger } from 'pino';
import type { BackendAddress } from '../backend/address.js';
import { describeCompute, type BackendKey, type BackendLogin } from '../backend/login.js';
import { readBaseline, resetBackend } from '../backend/health.js';
import { ComputePermits, PermitTimeoutError, ReborrowSignal } from './compute-permits.js';
import {
  BorrowTimeoutError,
  borrowSlot,
  createKeyPool,
  keyPoolId,
  type ComputeState,
  type KeyPool,
} from './key-pool.js';
import type { BackendEntry, PooledBackend } from './pooled-backend.js';

export interface BackendPoolOptions {
  /** Open connections per compute, over all its users and databases. */
  maxPerCompute: number;
  /** An idle connection is closed after this long unused. */
  idleTimeoutMs: number;
  /** How long acquire() waits for a free connection slot (not counting the login). */
  acquireTimeoutMs: number;
  logger: Logger;
  /** Bound on a reset, a validation ping and the post-login check. Default 5 s. */
  resetTimeoutMs?: number;
  /** A connection idle longer than this is pinged before it is handed out. Default 10 s. */
  pingAfterIdleMs?: number;
  /** How often idle connections are checked for eviction. Default min(idleTimeoutMs, 5 s). */
  evictionIntervalMs?: number;
}

export interface ReleaseOptions {
  dirty: boolean;
  /** Default true. */
  reset?: boolean;
}

export interface PoolCounts {
  /** Borrowed, or being logged in for a borrower. */
  inUse: number;
  idle: number;
  /** Borrowers waiting for a connection. */
  waiting: number;
  /** Open or opening connections: what maxPerCompute limits. */
  open: number;
}

export interface BackendPoolStats {
  total: PoolCounts;
  /** Keyed by "host:port". Computes being dropped are not listed. */
  computes: Record<string, PoolCounts>;
}

export interface BackendPools {
  /**
   * A connection for `key`: an idle one (validated), or a new one logged in with `login`.
   * `signal` is the borrower's (the client left): waiting stops and nothing leaks.
   * Rejects with PoolTimeoutError, ComputeDroppedError, PoolClosedError, or the login's
   * own error (BackendLoginError for nativeLogin).
   */
  acquire(key: BackendKey, login: BackendLogin, signal?: AbortSignal): Promise<PooledBackend>;
  /**
   * Give a connection back: reset and kept; or destroyed when `dirty`, when the reset or
   * the state check fails, when it died, or when its compute was dropped. Never rejects.
   * `reset: false` skips the reset for a borrower that knows it left no state behind
   * (transaction pooling between transactions).
   */
  release(backend: PooledBackend, opts: ReleaseOptions): Promise<void>;
  destroy(backend: PooledBackend): Promise<void>;
  /** The compute was suspended: close its idle connections, fail its waiters, destroy the rest on return. */
  dropCompute(addr: BackendAddress): Promise<void>;
  stats(): BackendPoolStats;
  close(): Promise<void>;
}

/** acquire() waited acquireTimeoutMs: names the compute, the user and the limit. */
export class PoolTimeoutError extends Error {
  override readonly name = 'PoolTimeoutError';
}

/** The compute was dropped (suspended) while a borrower waited for it. */
export class ComputeDroppedError extends Error {
  override readonly name = 'ComputeDroppedError';
}

export class PoolClosedError extends Error {
  override readonly name = 'PoolClosedError';
  constructor() {
    super('backend pool is closed');
  }
}

const NEVER = new AbortController().signal;

export function createBackendPools(opts: BackendPoolOptions): BackendPools {
  const log = opts.logger.child({ component: 'backend-pool' });
  const resetTimeoutMs = opts.resetTimeoutMs ?? 5_000;
  const evictionIntervalMs = opts.evictionIntervalMs ?? Math.max(10, Math.min(opts.idleTimeoutMs, 5_000));
  const settings = {
    maxPerCompute: opts.maxPerCompute,
    acquireTimeoutMs: opts.acquireTimeoutMs,
    idleTimeoutMs: opts.idleTimeoutMs,
    evictionIntervalMs,
    pingAfterIdleMs: opts.pingAfterIdleMs ?? 10_000,
    resetTimeoutMs,
    log,
    adopt: (entry: BackendEntry, kp: KeyPool) => owners.set(entry, kp),
  };
  const computes = new Map<string, ComputeState>();
  const owners = new WeakMap<BackendEntry, KeyPool>();
  const releasing = new WeakSet<BackendEntry>();
  let closed = false;

  // Maintenance in one place: forget key pools and computes that have nothing left.
  const janitor = setInterval(() => {
    for (const compute of computes.values()) {
      for (const kp of compute.keys.values()) {
        if (kp.pool.size === 0 && kp.pool.pending === 0 && kp.waiters.size === 0) {
          compute.keys.delete(kp.id);
          void retire(kp);
        }
      }
      if (compute.keys.size === 0 && compute.permits.inUse === 0 && compute.permits.waiting === 0) {
        computes.delete(compute.id);
      }
    }
  }, evictionIntervalMs);
  janitor.unref();

  function keyPoolFor(key: BackendKey): KeyPool {
    const computeId = addrId(key.addr);
    let compute = computes.get(computeId);
    if (!compute) {
      compute = {
        id: computeId,
        name: describeCompute(key.addr),
        permits: new ComputePermits(opts.maxPerCompute),
        keys: new Map(),
        dropped: false,
      };
      computes.set(computeId, compute);
    }
    const id = keyPoolId(key);
    let kp = compute.keys.get(id);
    if (!kp) {
      kp = createKeyPool(key, compute, settings);
      compute.keys.set(id, kp);
    }
    return kp;
  }

  async function acquire(key: BackendKey, login: BackendLogin, signal: AbortSignal = NEVER): Promise<PooledBackend> {
    if (closed) throw new PoolClosedError();
    const kp = keyPoolFor(key);
    const deadline = Date.now() + opts.acquireTimeoutMs;
    for (;;) {
      const entry = await borrowSlot(kp, deadline, signal).catch((err: unknown) => {
        throw explainBorrowFailure(kp, err, signal);
      });
      if (kp.compute.dropped || closed) {
        void kp.pool.destroy(entry);
        throw closed ? new PoolClosedError() : dropped(kp);
      }
      if (!entry.connected) {
        try {
          return await connect(kp, entry, login, deadline, signal);
        } catch (err) {
          void kp.pool.destroy(entry);
          if (err instanceof ReborrowSignal) continue;
          throw err;
        }
      }
      entry.unwatchIdle();
      // It may have died between validation and now.
      if (!entry.alive) {
        void kp.pool.destroy(entry);
        continue;
      }
      entry.borrows++;
      log.debug(
        { compute: kp.compute.name, user: key.user, backend: entry.id, borrows: entry.borrows },
        'backend reused',
      );
      return entry;
    }
  }

  /** generic-pool's own errors in our words; the borrower's abort reason as it is. */
  function explainBorrowFailure(kp: KeyPool, err: unknown, signal: AbortSignal): unknown {
    if (signal.aborted && err === signal.reason) return err;
    if (closed) return new PoolClosedError();
    if (kp.compute.dropped) return err instanceof ComputeDroppedError ? err : dropped(kp);
    if (err instanceof BorrowTimeoutError || (err as Error)?.name === 'TimeoutError') return timeout(kp);
    return err;
  }

  async function connect(
    kp: KeyPool,
    entry: BackendEntry,
    login: BackendLogin,
    deadline: number,
    signal: AbortSignal,
  ): Promise<PooledBackend> {
    await takePermit(kp, deadline, signal);
    entry.holdsPermit = true;
    const started = performance.now();
    entry.adopt(await login(kp.key, signal));
    entry.baseline = await readBaseline(entry, resetTimeoutMs);
    if (kp.compute.dropped) throw dropped(kp);
    entry.borrows = 1;
    log.debug(
      {
        compute: kp.compute.name,
        user: kp.key.user,
        backend: entry.id,
        thread: entry.threadId,
        ms: Math.round(performance.now() - started),
      },
      'backend connected',
    );
    return entry;
  }

  /**
   * A connection slot on the compute: a free one, or one made by closing an idle
   * connection of another key, or the next one given back. Rejects with ReborrowSignal
   * when an idle connection of this very key appears meanwhile.
   */
  async function takePermit(kp: KeyPool, deadline: number, signal: AbortSignal): Promise<void> {
    const { permits } = kp.compute;
    if (permits.tryTake()) return;
    for (const other of kp.compute.keys.values()) {
      if (other === kp || other.pool.available === 0) continue;
      await closeOneIdle(other);
      if (permits.tryTake()) return;
    }
    try {
      await permits.take(deadline, signal, kp.id);
    } catch (err) {
      throw err instanceof PermitTimeoutError ? timeout(kp) : err;
    }
  }

  async function closeOneIdle(kp: KeyPool): Promise<void> {
    try {
      await kp.pool.destroy(await kp.pool.acquire());
    } catch {
      // Taken or gone meanwhile: nothing to close.
    }
  }

  async function release(backend: PooledBackend, { dirty, reset = true }: ReleaseOptions): Promise<void> {
    const entry = backend as BackendEntry;
    const kp = owners.get(entry);
    if (!kp || !kp.pool.isBorrowedResource(entry) || releasing.has(entry)) {
      log.warn({ backend: entry.id }, 'release of a backend that is not on loan ignored');
      return;
    }
    releasing.add(entry);
    try {
      let why = dirty ? 'returned dirty' : unfit(kp, entry);
      if (!why && reset) {
        const check = await resetBackend(entry, kp.key.database, entry.baseline, resetTimeoutMs);
        why = check.ok ? unfit(kp, entry) : `reset failed: ${check.reason}`;
      }
      if (why) {
        log.debug({ compute: kp.compute.name, user: kp.key.user, backend: entry.id, reason: why }, 'backend destroyed');
        await kp.pool.destroy(entry);
        return;
      }
      entry.watchIdle();
      await kp.pool.release(entry);
      offerIdle(kp);
    } catch (err) {
      log.warn({ err, backend: entry.id }, 'backend release failed');
      if (kp.pool.isBorrowedResource(entry)) await kp.pool.destroy(entry).catch(() => {});
    } finally {
      releasing.delete(entry);
    }
  }

  /**
   * An idle connection while others wait for a slot on the same compute: a waiter of
   * the same key borrows it; otherwise it is closed so the first waiter can log in.
   */
  function offerIdle(kp: KeyPool): void {
    const { permits } = kp.compute;
    if (permits.waiting === 0 || kp.pool.available === 0) return;
    if (!permits.redirect(kp.id)) void closeOneIdle(kp);
  }

  function unfit(kp: KeyPool, entry: BackendEntry): string | null {
    if (closed) return 'pool closed';
    if (kp.compute.dropped) return 'compute dropped';
    if (!entry.alive) return entry.deathReason;
    return null;
  }

  async function destroy(backend: PooledBackend): Promise<void> {
    const entry = backend as BackendEntry;
    const kp = owners.get(entry);
    if (kp && kp.pool.isBorrowedResource(entry) && !releasing.has(entry)) await kp.pool.destroy(entry);
  }

  async function dropCompute(addr: BackendAddress): Promise<void> {
    const compute = computes.get(addrId(addr));
    if (compute) await drop(compute);
  }

  async function drop(compute: ComputeState): Promise<void> {
    computes.delete(compute.id);
    compute.dropped = true;
    const err = new ComputeDroppedError(`compute ${compute.name} was suspended`);
    compute.permits.rejectAll(err);
    for (const kp of compute.keys.values()) for (const fail of [...kp.waiters]) fail(err);
    log.info({ compute: compute.name }, 'compute dropped from the pool');
    await Promise.all([...compute.keys.values()].map(retire));
  }

  /** Idle connections go now; borrowed ones are destroyed as they come back. */
  async function retire(kp: KeyPool): Promise<void> {
    const drained = kp.pool.drain();
    await kp.pool.clear();
    void drained.then(() => kp.pool.clear()).catch(() => {});
  }

  function stats(): BackendPoolStats {
    const total: PoolCounts = { inUse: 0, idle: 0, waiting: 0, open: 0 };
    const out: Record<string, PoolCounts> = {};
    for (const compute of computes.values()) {
      const c: PoolCounts = { inUse: 0, idle: 0, waiting: compute.permits.waiting, open: compute.permits.inUse };
      for (const kp of compute.keys.values()) {
        c.inUse += kp.pool.borrowed;
        c.idle += kp.pool.available;
        c.waiting += kp.waiters.size;
      }
      out[compute.id] = c;
      total.inUse += c.inUse;
      total.idle += c.idle;
      total.waiting += c.waiting;
      total.open += c.open;
    }
    return { total, computes: out };
  }

  async function close(): Promise<void> {
    closed = true;
    clearInterval(janitor);
    await Promise.all([...computes.values()].map(drop));
  }

  function timeout(kp: KeyPool): PoolTimeoutError {
    const { permits } = kp.compute;
    return new PoolTimeoutError(
      `no backend connection for user '${kp.key.user}' on compute ${kp.compute.name} ` +
        `within ${opts.acquireTimeoutMs} ms: ${permits.inUse} of ${permits.max} allowed connections open`,
    );
  }

  function dropped(kp: KeyPool): ComputeDroppedError {
    return new ComputeDroppedError(
      `compute ${kp.compute.name} was suspended while user '${kp.key.user}' waited for it`,
    );
  }

  return { acquire, release, destroy, dropCompute, stats, close };
}

function addrId(addr: BackendAddress): string {
  return `${addr.host}:${addr.port}`;
}
