// The lock behind leader election, and its lease-row form. A lock answers the
// epoch while this holder has it: the fencing token every change made for the
// leader carries (state-store.ts). Whoever takes the lock bumps the epoch, so
// changes a former leader decided on are refused from that moment.
//
// The lease row (SQLite, and any backend without advisory locks): the row
// names a holder and an expiry by the database's clock; the holder renews it,
// anyone takes it once it expires, or at once when its holder's process is
// certainly gone (same host, locality.ts).
import { isGoneLocally } from './locality.js';
import type { SqlDatabase } from './sql-database.js';

export interface LeaderLock {
  /** Takes or keeps the lock; answers the epoch while held, undefined while another holds it. Throws when the store cannot answer. */
  acquireOrRenew(): Promise<number | undefined>;
  /** Gives the lock up, so another control plane takes it at once. */
  release(): Promise<void>;
  /** Something the operator should know once (e.g. a missing server feature). */
  readonly warning?: string;
}

interface LeaseRow {
  holder: string | null;
  epoch: number;
  expires_at: number;
  now: number;
  pid: number | null;
  locality: string | null;
}

export function leaseRowLock(db: SqlDatabase, name: string, holder: string, leaseMs: number): LeaderLock {
  return {
    acquireOrRenew: () =>
      db.transaction(async (tx) => {
        await tx.query('INSERT INTO leadership (name, holder, epoch, expires_at) VALUES (?, NULL, 0, 0) ON CONFLICT (name) DO NOTHING', [name]);
        const row = (
          await tx.query<LeaseRow>(
            `SELECT l.holder, l.epoch, l.expires_at, ${db.nowMs} AS now, i.pid, i.locality
             FROM leadership l LEFT JOIN instances i ON i.id = l.holder WHERE l.name = ?${db.forUpdate}`,
            [name],
          )
        ).rows[0]!;
        const expires = row.now + leaseMs;
        if (row.holder === holder && row.expires_at > row.now) {
          await tx.query('UPDATE leadership SET expires_at = ? WHERE name = ?', [expires, name]);
          return row.epoch;
        }
        const free =
          row.holder === null ||
          row.expires_at <= row.now ||
          (row.pid !== null && row.locality !== null && isGoneLocally(row.pid, row.locality));
        if (!free) return undefined;
        await tx.query('UPDATE leadership SET holder = ?, epoch = epoch + 1, expires_at = ? WHERE name = ?', [holder, expires, name]);
        return row.epoch + 1;
      }),
    async release() {
      await db.query('UPDATE leadership SET holder = NULL, expires_at = 0 WHERE name = ? AND holder = ?', [name, holder]);
    },
  };
}
