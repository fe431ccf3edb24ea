// The SQLite backend (better-sqlite3): the default, for one machine. One
// connection; write-ahead log so readers never wait for a writer; commits go to
// the log without an fsync each (synchronous=NORMAL: a power cut may lose the
// last moments, never consistency), which keeps a transition's write far under
// a millisecond on the wake path. The log is folded back into the file (a
// checkpoint, which does fsync) on a timer rather than inside whichever commit
// crosses SQLite's threshold, so no wake pays for it. Several control planes on
// one host may share the file (transactions take its write lock up front and
// wait up to 5 s).
//
// better-sqlite3 is synchronous, so a statement never interleaves with another;
// a transaction awaits between its statements, so everything else on the file
// in this process queues behind it (a few microseconds, since its statements
// never wait on I/O). Other processes wait on SQLite's own lock.
import { chmodSync, closeSync, openSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import Database from 'better-sqlite3';
import type { SqlDatabase, SqlResult, SqlTx, SqlValue } from './sql-database.js';

const BUSY_TIMEOUT_MS = 5_000;
/** How often the write-ahead log is checkpointed when something was written. */
const CHECKPOINT_EVERY_MS = 5_000;

/**
 * One queue per file for the whole process: two connections to one file in one
 * process (two control planes in a test) must not both wait on SQLite's lock,
 * since the wait blocks the thread the lock holder needs to finish.
 */
const tails = new Map<string, { tail: Promise<unknown>; users: number }>();

export function openSqliteDatabase(path: string): SqlDatabase {
  const file = path === ':memory:' ? path : resolve(path);
  if (file !== ':memory:') makePrivate(file);
  let db: Database.Database;
  try {
    db = new Database(file, { timeout: BUSY_TIMEOUT_MS });
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    // Checkpoints on the timer below, never in a commit.
    db.pragma('wal_autocheckpoint = 0');
  } catch (err) {
    throw new Error(`could not open the control-plane state ${file}: ${(err as Error).message}`, { cause: err });
  }
  const statements = new Map<string, Database.Statement>();
  const queue = file === ':memory:' ? { tail: Promise.resolve() as Promise<unknown>, users: 1 } : tails.get(file) ?? { tail: Promise.resolve(), users: 0 };
  if (file !== ':memory:') {
    queue.users++;
    tails.set(file, queue);
  }

  let written = false;
  function run<T>(sql: string, params: readonly SqlValue[] = []): SqlResult<T> {
    let stmt = statements.get(sql);
    if (!stmt) statements.set(sql, (stmt = db.prepare(sql)));
    if (stmt.reader) {
      const rows = stmt.all(...params) as T[];
      // RETURNING makes a write a reader too.
      if (!stmt.readonly) written = true;
      return { rows, count: rows.length };
    }
    written = true;
    return { rows: [], count: stmt.run(...params).changes };
  }

  /** One at a time, in call order; a failure does not stop the ones behind it. */
  function exclusive<T>(fn: () => T | Promise<T>): Promise<T> {
    const next = queue.tail.then(fn);
    queue.tail = next.catch(() => {});
    return next;
  }

  const checkpoints =
    file === ':memory:'
      ? undefined
      : setInterval(() => {
          if (!written) return;
          void exclusive(() => {
            written = false;
            // PASSIVE: copies what it can without waiting for anyone; the rest goes next time.
            if (db.open) db.pragma('wal_checkpoint(PASSIVE)');
          }).catch(() => {});
        }, CHECKPOINT_EVERY_MS).unref();

  const tx: SqlTx = {
    query: async <T>(sql: string, params?: readonly SqlValue[]) => run<T>(sql, params),
    notify: async () => {},
  };

  return {
    dialect: 'sqlite',
    location: file,
    nowMs: "CAST(ROUND((julianday('now') - 2440587.5) * 86400000) AS INTEGER)",
    forUpdate: '',
    forShare: '',
    query: (sql, params) => exclusive(() => run(sql, params)),
    transaction: (fn) =>
      exclusive(async () => {
        // IMMEDIATE: take the write lock now, so two processes never both read and then both fail to write.
        db.exec('BEGIN IMMEDIATE');
        try {
          const result = await fn(tx);
          db.exec('COMMIT');
          return result;
        } catch (err) {
          if (db.inTransaction) db.exec('ROLLBACK');
          throw err;
        }
      }),
    listen: async () => {},
    close: () =>
      exclusive(() => {
        clearInterval(checkpoints);
        if (!db.open) return;
        if (written) db.pragma('wal_checkpoint(PASSIVE)');
        db.close();
        if (--queue.users === 0 && tails.get(file) === queue) tails.delete(file);
      }),
  };
}

/**
 * The state holds password verifiers and the control account's password: the
 * file is created 0600 (its -wal and -shm files take the same mode), and an
 * existing one readable by others is made private.
 */
function makePrivate(file: string): void {
  try {
    closeSync(openSync(file, 'wx', 0o600));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new Error(`could not create the control-plane state ${file}: ${(err as Error).message}`, { cause: err });
    }
    if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
  }
}
