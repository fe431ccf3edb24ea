// The little the state store needs from a SQL database, so that one store
// (sql-state-store.ts) runs on both backends: SQLite (better-sqlite3, one
// machine) and PostgreSQL (pg, several control planes). Statements are written
// once with `?` placeholders; the PostgreSQL backend numbers them. The few
// places where the two dialects differ are the fields below.

export type SqlDialect = 'sqlite' | 'postgres';

export type SqlValue = string | number | null;

export interface SqlResult<T> {
  rows: T[];
  /** Rows a write changed (or a read returned). */
  count: number;
}

/** Statements inside one transaction. */
export interface SqlTx {
  query<T = Record<string, unknown>>(sql: string, params?: readonly SqlValue[]): Promise<SqlResult<T>>;
  /** Tells other control planes (PostgreSQL LISTEN) once the transaction commits; nothing on SQLite. */
  notify(channel: string, payload: string): Promise<void>;
}

/** A connection of its own, outside the pool: what a session-level lock lives on. */
export interface SqlSession {
  query<T = Record<string, unknown>>(sql: string, params?: readonly SqlValue[]): Promise<SqlResult<T>>;
  /** False once the connection broke or was ended (the server ended it, say). */
  readonly open: boolean;
  end(): Promise<void>;
}

export interface SqlDatabase {
  readonly dialect: SqlDialect;
  /** Where it is, fit for logs: a file path, or a PostgreSQL URL without its password. */
  readonly location: string;
  /** The database's clock in Unix milliseconds, as an SQL expression: one clock for every control plane. */
  readonly nowMs: string;
  /** Appended to a SELECT that must lock the rows it reads until commit (SQLite locks the whole file instead). */
  readonly forUpdate: string;
  readonly forShare: string;
  /** One statement in a transaction of its own. */
  query<T = Record<string, unknown>>(sql: string, params?: readonly SqlValue[]): Promise<SqlResult<T>>;
  /**
   * Runs fn in one transaction: everything it writes commits together, or
   * nothing does when it throws. fn must await only its own statements (never a
   * driver call or a timer): on SQLite every other statement waits for it.
   */
  transaction<T>(fn: (tx: SqlTx) => Promise<T>): Promise<T>;
  /** A dedicated connection (PostgreSQL only). */
  openSession?(purpose: string): Promise<SqlSession>;
  /**
   * Calls back with the payload of every notification on the channel, from any
   * control plane; resolves once listening (or once it failed: callers poll too).
   */
  listen(channel: string, onPayload: (payload: string) => void): Promise<void>;
  close(): Promise<void>;
}

/** A PostgreSQL URL (`postgres://` or `postgresql://`) rather than a SQLite file path. */
export function isPostgresLocation(location: string): boolean {
  return /^postgres(ql)?:\/\//i.test(location);
}

/** The location with any password replaced, so it can be logged and shown in errors. */
export function redactLocation(location: string): string {
  if (!isPostgresLocation(location)) return location;
  try {
    const u = new URL(location);
    if (u.password) u.password = '***';
    u.searchParams.delete('password');
    return u.toString();
  } catch {
    return 'postgres://(unparsable URL)';
  }
}

/** Opens the backend the location names; the driver package is loaded only for that backend. */
export async function openSqlDatabase(location: string, applicationName: string): Promise<SqlDatabase> {
  if (isPostgresLocation(location)) {
    const { openPostgresDatabase } = await import('./postgres-database.js');
    return openPostgresDatabase(location, applicationName);
  }
  const { openSqliteDatabase } = await import('./sqlite-database.js');
  return openSqliteDatabase(location);
}
