// Leader election on PostgreSQL: a session-level advisory lock on a connection
// of its own. A holder that dies loses it at once (the server ends its session
// when the socket closes). A holder that stops answering without dying (paused,
// partitioned, its event loop stuck) loses it too: its session carries
// idle_session_timeout = the lease, renewed by a statement every few seconds,
// so the server ends the session, and the lock with it, one lease after the
// last renewal. The new holder then bumps the epoch in the leadership row,
// which fences whatever the old one decided (state-store.ts).
import { createHash } from 'node:crypto';
import type { LeaderLock } from './leader-lock.js';
import type { SqlDatabase, SqlSession } from './sql-database.js';

/** A stable 48-bit lock key per leadership name. */
export function advisoryKey(name: string): number {
  return Number.parseInt(createHash('sha256').update(`wake-proxy leader ${name}`).digest('hex').slice(0, 12), 16);
}

export function advisoryLock(db: SqlDatabase, name: string, holder: string, leaseMs: number): LeaderLock {
  if (!db.openSession) throw new Error(`advisory locks need PostgreSQL, not ${db.dialect}`);
  const openSession = db.openSession.bind(db);
  const key = advisoryKey(name);
  let session: SqlSession | undefined;
  let epoch: number | undefined;
  let warning: string | undefined;

  async function connect(): Promise<SqlSession> {
    const s = await openSession(`leader ${name}`);
    try {
      await s.query(`SET idle_session_timeout = ${Math.max(1, Math.round(leaseMs))}`);
    } catch (err) {
      // Before PostgreSQL 14: a paused leader keeps the lock until its connection dies.
      warning = `idle_session_timeout is not available (${(err as Error).message}): a leader that hangs without dying keeps the lock until its connection drops`;
    }
    return s;
  }

  async function drop(): Promise<void> {
    const s = session;
    session = undefined;
    epoch = undefined;
    await s?.end();
  }

  return {
    get warning() {
      return warning;
    },
    async acquireOrRenew() {
      try {
        if (session && !session.open) await drop();
        session ??= await connect();
        if (epoch !== undefined) {
          // Renewal: any statement resets the server's idle clock for this session.
          await session.query('SELECT 1');
          return epoch;
        }
        const got = (await session.query<{ got: boolean }>('SELECT pg_try_advisory_lock(?::bigint) AS got', [key])).rows[0]?.got;
        if (!got) return undefined;
        const row = await session.query<{ epoch: number }>(
          `INSERT INTO leadership (name, holder, epoch, expires_at) VALUES (?, ?, 1, 0)
           ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, epoch = leadership.epoch + 1
           RETURNING epoch`,
          [name, holder],
        );
        epoch = row.rows[0]!.epoch;
        return epoch;
      } catch (err) {
        // Whatever broke, the lock may be gone with the session: start over on the next try.
        await drop();
        throw err;
      }
    },
    async release() {
      if (session?.open && epoch !== undefined) {
        await session.query('UPDATE leadership SET holder = NULL WHERE name = ? AND holder = ?', [name, holder]).catch(() => {});
        await session.query('SELECT pg_advisory_unlock(?::bigint)', [key]).catch(() => {});
      }
      await drop();
    },
  };
}
