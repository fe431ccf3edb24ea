// The statements prepared on one pooled compute connection, by text: transaction
// pooling prepares a client's statement on whichever connection it borrows, and the
// next client (of the same user and database: connections are pooled per key) that
// prepares the same text finds it there. Bounded, least recently used first out: the
// evicted statement is closed on the compute (COM_STMT_CLOSE has no reply), so a
// connection never holds more than the bound against the server's global
// max_prepared_stmt_count.
//
// The cache lives beside the connection (a WeakMap on it), not in the pool: the pool
// knows nothing of statements. A connection reset (COM_RESET_CONNECTION, COM_CHANGE_USER)
// drops every statement on the compute, so whoever resets one forgets its cache here.
import type { PooledBackend } from '../pool/pooled-backend.js';

/** One statement on one connection. */
export interface ConnectionStatement {
  /** The connection's statements it is one of (until evicted). */
  readonly home: ConnectionStatements;
  /** Closed on the compute to make room: no longer in `home`. */
  evicted: boolean;
  readonly key: string;
  /** The compute's id for it. */
  readonly id: number;
  /** The parameter types the compute holds for it (from the last execute that sent some), or null. */
  types: Buffer | null;
  /** Client statements whose long data or open cursor is on it: while any, it is not evicted. */
  holders: number;
  /** When it was last used, on its connection's clock. */
  used: number;
}

export class ConnectionStatements {
  private readonly byKey = new Map<string, ConnectionStatement>();
  /** Counts uses: an execute only stamps its statement, and only eviction (rare) looks for the oldest. */
  private clock = 0;

  constructor(readonly limit: number) {}

  get size(): number {
    return this.byKey.size;
  }

  /**
   * The statement prepared here for `key`, marked used; undefined if none. `last`, where
   * the same client statement went last, is taken without a lookup when it is here
   * (within a transaction a client runs its statements on one connection, over and over).
   */
  get(key: string, last: ConnectionStatement | null = null): ConnectionStatement | undefined {
    const s = last !== null && last.home === this && !last.evicted ? last : this.byKey.get(key);
    if (s !== undefined) s.used = ++this.clock;
    return s;
  }

  /**
   * A statement the compute just prepared. Returns the compute ids to close: those
   * evicted to stay within the limit (never a held one), or the new id itself when
   * the key was prepared here already (the older one is kept: it may be held).
   */
  add(key: string, id: number): { statement: ConnectionStatement; close: number[] } {
    const existing = this.get(key);
    if (existing) return { statement: existing, close: existing.id === id ? [] : [id] };
    const statement: ConnectionStatement = { home: this, evicted: false, key, id, types: null, holders: 0, used: ++this.clock };
    this.byKey.set(key, statement);
    return { statement, close: this.byKey.size > this.limit ? this.shed(this.byKey.size - this.limit, statement) : [] };
  }

  /** Drops up to `count` least recently used statements not held (nor `keep`); their ids, to close on the compute. */
  shed(count: number, keep: ConnectionStatement | null = null): number[] {
    const close: number[] = [];
    while (close.length < count) {
      let oldest: ConnectionStatement | null = null;
      for (const s of this.byKey.values()) {
        if (s.holders === 0 && s !== keep && (oldest === null || s.used < oldest.used)) oldest = s;
      }
      if (oldest === null) break;
      this.byKey.delete(oldest.key);
      oldest.evicted = true;
      close.push(oldest.id);
    }
    return close;
  }
}

const caches = new WeakMap<PooledBackend, ConnectionStatements>();

/** The statements on `backend`, made empty on first use. */
export function statementsOn(backend: PooledBackend, limit: number): ConnectionStatements {
  let cache = caches.get(backend);
  if (!cache) {
    cache = new ConnectionStatements(limit);
    caches.set(backend, cache);
  }
  return cache;
}

/** `backend` was reset or is going away: the compute holds none of its statements any more. */
export function forgetStatements(backend: PooledBackend): void {
  caches.delete(backend);
}
