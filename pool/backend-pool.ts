// Backend connections kept for reuse: pools per key (compute, user, database, negotiated
// capabilities, charset), a connection limit per compute across its keys, a reset on
// every return, and everything of a compute dropped when it is suspended.
//
// A connection's life: a borrower takes a slot on its compute and logs in itself
// (backend/login.ts), so a failing login reaches exactly that borrower, at once ->
// baseline read -> lent -> reset and state check on release (backend/health.ts) ->
// handed to a waiter of its key, or idle and watched -> lent again (pinged first if it
// idled past pingAfterIdleMs), or closed: dirty, failed reset, dead, idle too long
// (janitor.ts), its slot wanted by another key, or its compute dropped. A ping that
// gets no answer at all fails the borrow (ComputeUnresponsiveError): the compute is
// frozen or wedged, and its other connections would only wait the same bound each.
import type { BackendAddress } from '../backend/address.js';
import { describeCompute, type BackendKey, type BackendLogin } from '../backend/login.js';
import { ComputePool } from './compute-pool.js';
import { keyPoolId, type KeyPool } from './key-pool.js';
import { startJanitor } from './janitor.js';
import { poolSettings, type BackendPoolOptions, type PoolSettings, type ReleaseOptions } from './pool-options.js';
import { BackendEntry, type PooledBackend } from './pooled-backend.js';
import { PoolClosedError, computeDropped, computeUnresponsive, poolTimeout } from './pool-errors.js';
import { keyPoolStats, poolStats, type BackendPoolStats, type KeyPoolStats } from './pool-stats.js';
import { copySettings } from '../backend/session-settings.js';
import type { AbortWatch } from '../util/abort.js';

// The pool's face: callers import the pool, its options, errors and stats from here.
export type { BackendPoolOptions, PoolChecks, ReleaseOptions } from './pool-options.js';
export { TRANSACTION_GROW_DELAY_MS, defaultGrowDelayMs } from './pool-options.js';
export type { PoolCounts } from './compute-pool.js';
export { PoolTimeoutError, ComputeDroppedError, ComputeUnresponsiveError, PoolClosedError } from './pool-errors.js';
export type { BackendPoolStats, KeyPoolStats } from './pool-stats.js';

export interface BackendPools {
  /**
   * A connection for `key`: an idle one (validated), or a new one logged in with `login`.
   * `signal` is the borrower's (the client left): waiting stops and nothing leaks.
   * Rejects with PoolTimeoutError, ComputeDroppedError, ComputeUnresponsiveError,
   * PoolClosedError, or the login's own error (BackendLoginError for nativeLogin).
   */
  acquire(key: BackendKey, login: BackendLogin, signal?: AbortWatch): Promise<PooledBackend>;
  /**
   * An idle connection for `key` at once, when one is ready without a check (alive, idle
   * less than pingAfterIdleMs), else null and nothing changes: acquire() then does the
   * rest. Transaction pooling borrows per statement; this spares it a promise chain,
   * an abort signal and, with a `memo` kept for this key, two key strings.
   */
  tryAcquire(key: BackendKey, memo?: KeyPoolMemo): PooledBackend | null;
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
  /** Per key, for a person asking (it walks every key and waiter). */
  keyStats(): KeyPoolStats[];
  close(): Promise<void>;
}

/**
 * A borrower's memory between tryAcquire() calls with one key: the key's pool, found
 * once and checked still current before each use. Start a new one for another key.
 */
export interface KeyPoolMemo {
  pool: KeyPool | null;
}

const NEVER = new AbortController().signal;
const DONE = Promise.resolve();

export function createBackendPools(opts: BackendPoolOptions): BackendPools {
  return new KeyedBackendPools(poolSettings(opts));
}

class KeyedBackendPools implements BackendPools {
  private readonly computes = new Map<string, ComputePool>();
  private readonly stopJanitor: () => void;
  private closed = false;
  /** Resets under way (connections given back by quitting sessions): close() waits for them, bounded by the reset's timeout. */
  private readonly resetting = new Set<Promise<void>>();
  private nextId = 1;

  constructor(private readonly settings: PoolSettings) {
    this.stopJanitor = startJanitor(this.computes, settings);
  }

  async acquire(key: BackendKey, login: BackendLogin, signal: AbortWatch = NEVER): Promise<PooledBackend> {
    if (this.closed) throw new PoolClosedError();
    if (signal.aborted) throw signal.reason;
    const kp = this.computeFor(key.addr).keyPool(key);
    const { compute } = kp;
    let waitUntil = 0;
    kp.acquiring++;
    try {
      for (;;) {
        let entry = kp.takeIdle();
        if (entry) {
          if (entry.alive && Date.now() - entry.idleSince >= this.settings.pingAfterIdleMs && !(await this.ping(kp, entry))) continue;
        } else if (compute.tryTakeSlot(kp)) {
          entry = await this.connect(kp, login, signal);
        } else {
          waitUntil ||= Date.now() + this.settings.acquireTimeoutMs;
          const timedOut = () => poolTimeout(kp.key, compute.name, this.settings.acquireTimeoutMs, compute.open, compute.max);
          entry = (await compute.wait(kp, waitUntil - Date.now(), signal, timedOut)) ?? (await this.connect(kp, login, signal));
        }
        if (this.closed || compute.dropped) {
          compute.close(entry);
          throw this.closed ? new PoolClosedError() : computeDropped(kp.key, compute.name);
        }
        if (!entry.alive) {
          this.discard(entry, `found dead: ${entry.deathReason}`);
          continue;
        }
        if (signal.aborted) {
          // The borrower left while a check ran: the connection is fine, keep it.
          compute.giveBack(entry, Date.now());
          throw signal.reason;
        }
        entry.lent = true;
        entry.borrows++;
        return entry;
      }
    } finally {
      kp.acquiring--;
    }
  }

  tryAcquire(key: BackendKey, memo?: KeyPoolMemo): PooledBackend | null {
    if (this.closed) return null;
    let kp = memo?.pool;
    // The janitor forgets unused key pools (and then their computes), and a drop replaces a compute: look again then.
    if (!kp || kp.forgotten || kp.compute.dropped) {
      kp = this.computes.get(addrId(key.addr))?.keys.get(keyPoolId(key));
      if (!kp) return null;
      if (memo) memo.pool = kp;
    }
    const { idle } = kp;
    const entry = idle[idle.length - 1];
    if (!entry || !entry.alive || Date.now() - entry.idleSince >= this.settings.pingAfterIdleMs) return null;
    kp.takeIdle();
    entry.lent = true;
    entry.borrows++;
    return entry;
  }

  /** Log in on a slot this borrower holds; a failure frees the slot and goes to this borrower. */
  private async connect(kp: KeyPool, login: BackendLogin, signal: AbortWatch): Promise<BackendEntry> {
    const started = performance.now();
    let entry: BackendEntry;
    kp.opening++;
    kp.compute.opening++;
    try {
      if (signal.aborted) throw signal.reason;
      entry = kp.adopt(this.nextId++, await login(kp.key, signal));
    } catch (err) {
      kp.compute.freeSlot();
      throw err;
    } finally {
      kp.opening--;
      kp.compute.opening--;
    }
    try {
      entry.baseline = await this.settings.checks.readBaseline(entry, this.settings.resetTimeoutMs, kp.key.statementTime ?? null);
      if (entry.baseline.settings) entry.settings = copySettings(entry.baseline.settings);
    } catch (err) {
      this.discard(entry, `baseline check failed: ${(err as Error).message}`);
      throw err;
    }
    this.settings.log.debug(
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
   * For a connection idle past pingAfterIdleMs: true if it answered; closed if not, and
   * the borrow fails if the compute gave no answer at all.
   */
  private async ping(kp: KeyPool, entry: BackendEntry): Promise<boolean> {
    const { pingTimeoutMs } = this.settings;
    const ping = await this.settings.checks.ping(entry, pingTimeoutMs);
    if (ping.ok) return true;
    this.discard(entry, `failed its ping: ${ping.reason}`);
    if (ping.timedOut) {
      throw computeUnresponsive(kp.key, kp.compute.name, pingTimeoutMs);
    }
    return false;
  }

  release(backend: PooledBackend, opts: ReleaseOptions): Promise<void> {
    const entry = backend as BackendEntry;
    if (!(entry instanceof BackendEntry) || !entry.lent) {
      this.settings.log.warn({ backend: (entry as Partial<BackendEntry>).id }, 'release of a backend that is not on loan ignored');
      return DONE;
    }
    entry.lent = false;
    // Transaction pooling gives a connection back after every statement, mostly without a reset: no promise then.
    if (opts.reset === false || opts.dirty) {
      this.keepUnless(entry, opts.dirty ? 'returned dirty' : this.unfit(entry));
      return DONE;
    }
    const reset = this.resetAndKeep(entry);
    this.resetting.add(reset);
    const settled = () => void this.resetting.delete(reset);
    reset.then(settled, settled);
    return reset;
  }

  /** A connection back from its borrower that asked for a reset: reset, checked, and kept if fit. */
  private async resetAndKeep(entry: BackendEntry): Promise<void> {
    let why = this.unfit(entry);
    if (!why) {
      const check = await this.settings.checks
        .reset(entry, entry.key.database, entry.baseline, this.settings.resetTimeoutMs)
        .catch((err: unknown) => ({ ok: false as const, reason: (err as Error).message }));
      why = check.ok ? this.unfit(entry) : `reset failed: ${check.reason}`;
      if (check.ok) {
        entry.settings = check.settings ?? null;
        entry.restoring = null;
      }
    }
    this.keepUnless(entry, why);
  }

  /** Back to its compute (a waiter or the idle list), or closed for `why`. */
  private keepUnless(entry: BackendEntry, why: string | null): void {
    if (why) this.discard(entry, why);
    else entry.home.compute.giveBack(entry, Date.now());
  }

  async destroy(backend: PooledBackend): Promise<void> {
    const entry = backend as BackendEntry;
    if (!(entry instanceof BackendEntry) || !entry.lent) return;
    entry.lent = false;
    this.discard(entry, 'destroyed by its borrower');
  }

  async dropCompute(addr: BackendAddress): Promise<void> {
    const compute = this.computes.get(addrId(addr));
    if (!compute) return;
    this.computes.delete(compute.id);
    compute.drop((kp) => computeDropped(kp.key, compute.name));
    this.settings.log.info({ compute: compute.name }, 'compute dropped from the pool');
  }

  stats(): BackendPoolStats {
    return poolStats(this.computes);
  }

  keyStats(): KeyPoolStats[] {
    return keyPoolStats(this.computes);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.stopJanitor();
    for (const compute of this.computes.values()) compute.drop(() => new PoolClosedError());
    this.computes.clear();
    // A connection still being reset is closed (with COM_QUIT) once its reset ends: waited
    // for, so a shutdown that exits next does not cut it off mid-reset (Aborted_clients).
    await Promise.allSettled(this.resetting);
  }

  private computeFor(addr: BackendAddress): ComputePool {
    const id = addrId(addr);
    let compute = this.computes.get(id);
    if (!compute) {
      compute = new ComputePool(id, describeCompute(addr), this.settings.maxPerCompute, this.settings.growDelayMs);
      this.computes.set(id, compute);
    }
    return compute;
  }

  /** Why a connection back from its borrower may not be kept, or null. */
  private unfit(entry: BackendEntry): string | null {
    if (this.closed) return 'pool closed';
    if (entry.home.compute.dropped) return 'compute dropped';
    if (!entry.alive) return entry.deathReason;
    return null;
  }

  private discard(entry: BackendEntry, reason: string): void {
    const { compute, key } = entry.home;
    this.settings.log.debug({ compute: compute.name, user: key.user, backend: entry.id, reason }, 'backend destroyed');
    compute.close(entry);
  }
}

function addrId(addr: BackendAddress): string {
  return `${addr.host}:${addr.port}`;
}
