// One generic-pool per pool key. Its factory makes empty slots, instantly; the borrower
// logs in itself (backend-pool.ts), so a failing login reaches the client that caused it
// at once instead of generic-pool retrying a failing create for as long as anyone waits.
// What generic-pool does here: idle lists (most recently returned first), validation on
// borrow, idle eviction, and the queue of borrowers when the key is at its limit.
import genericPool from 'generic-pool';
import type { Pool } from 'generic-pool';
import type { Logger } from 'pino';
import type { BackendKey } from '../backend/login.js';
import { pingBackend } from '../backend/health.js';
import type { ComputePermits } from './compute-permits.js';
import { BackendEntry } from './pooled-backend.js';

export interface ComputeState {
  /** "host:port" */
  id: string;
  /** For messages: "c-1 (10.0.0.5:3306)". */
  name: string;
  permits: ComputePermits;
  keys: Map<string, KeyPool>;
  dropped: boolean;
}

export interface KeyPool {
  id: string;
  key: BackendKey;
  pool: Pool<BackendEntry>;
  compute: ComputeState;
  /** Borrowers waiting in generic-pool's queue, so a dropped compute can fail them at once. */
  waiters: Set<(err: Error) => void>;
}

export interface KeyPoolSettings {
  maxPerCompute: number;
  acquireTimeoutMs: number;
  idleTimeoutMs: number;
  evictionIntervalMs: number;
  pingAfterIdleMs: number;
  resetTimeoutMs: number;
  log: Logger;
  /** Called for every slot the pool makes, to remember which pool owns it. */
  adopt(entry: BackendEntry, kp: KeyPool): void;
}

let nextEntryId = 1;

export function keyPoolId(key: BackendKey): string {
  return JSON.stringify([key.user, key.database, key.capabilities >>> 0, key.mariadbCapabilities >>> 0, key.charset]);
}

export function createKeyPool(key: BackendKey, compute: ComputeState, s: KeyPoolSettings): KeyPool {
  const kp: KeyPool = { id: keyPoolId(key), key, compute, waiters: new Set() } as KeyPool;
  kp.pool = genericPool.createPool<BackendEntry>(
    {
      create: async () => {
        const entry = new BackendEntry(nextEntryId++, key);
        s.adopt(entry, kp);
        return entry;
      },
      destroy: async (entry) => {
        entry.close();
        if (entry.holdsPermit) {
          entry.holdsPermit = false;
          compute.permits.give();
        }
      },
      validate: (entry) => validate(entry, compute, s),
    },
    {
      max: s.maxPerCompute,
      min: 0,
      testOnBorrow: true,
      // borrowSlot() keeps its own deadline; this only clears requests abandoned in the queue.
      acquireTimeoutMillis: s.acquireTimeoutMs,
      // Most recently returned first: hot connections stay hot, the rest idle out.
      fifo: false,
      evictionRunIntervalMillis: s.evictionIntervalMs,
      idleTimeoutMillis: s.idleTimeoutMs,
      numTestsPerEvictionRun: s.maxPerCompute,
      autostart: true,
    },
  );
  return kp;
}

/** Cheap unless the connection idled past pingAfterIdleMs. Empty slots are always fine. */
async function validate(entry: BackendEntry, compute: ComputeState, s: KeyPoolSettings): Promise<boolean> {
  if (!entry.connected) return true;
  if (!entry.alive) {
    s.log.debug({ compute: compute.name, backend: entry.id, reason: entry.deathReason }, 'idle backend found dead');
    return false;
  }
  if (Date.now() - entry.idleSince < s.pingAfterIdleMs) return true;
  entry.unwatchIdle();
  const ping = await pingBackend(entry, s.resetTimeoutMs);
  if (!ping.ok || !entry.alive) {
    const reason = ping.ok ? entry.deathReason : ping.reason;
    s.log.debug({ compute: compute.name, backend: entry.id, reason }, 'idle backend failed its ping');
    return false;
  }
  entry.watchIdle();
  return true;
}

export class BorrowTimeoutError extends Error {
  override readonly name = 'BorrowTimeoutError';
}

/**
 * A slot from generic-pool by `deadline`. If the borrower gives up first (timeout,
 * abort, dropped compute) the slot is handed back when it arrives.
 */
export function borrowSlot(kp: KeyPool, deadline: number, signal: AbortSignal): Promise<BackendEntry> {
  const pending = kp.pool.acquire();
  return new Promise<BackendEntry>((resolve, reject) => {
    let settled = false;
    const giveUp = (err: unknown) => {
      if (settled) return;
      settled = true;
      cleanup();
      reject(err);
    };
    const onAbort = () => giveUp(signal.reason);
    const timer = setTimeout(
      () => giveUp(new BorrowTimeoutError('no slot in time')),
      Math.max(0, deadline - Date.now()),
    );
    const cleanup = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      kp.waiters.delete(giveUp);
    };
    kp.waiters.add(giveUp);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    pending.then(
      (entry) => {
        if (!settled) {
          settled = true;
          cleanup();
          return resolve(entry);
        }
        if (entry.connected && entry.alive && !kp.compute.dropped) void kp.pool.release(entry);
        else void kp.pool.destroy(entry);
      },
      (err: unknown) => giveUp(err),
    );
  });
}
