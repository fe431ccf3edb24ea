// The PostgreSQL backend (pg), for several control planes sharing one state: a
// small pool of connections, transactions at READ COMMITTED with explicit row
// locks where a read decides a write, and LISTEN/NOTIFY so a control plane
// waiting for another's operation hears of it at once instead of polling.
//
// The password may come in the URL or, better, from PGPASSWORD (pg reads the
// libpq environment variables); it never appears in a log or an error.
import pg from 'pg';
import { redactLocation, type SqlDatabase, type SqlResult, type SqlSession, type SqlTx, type SqlValue } from './sql-database.js';

const POOL_SIZE = 10;
const CONNECT_TIMEOUT_MS = 10_000;
/** Bound on one statement on the server: a stuck lock must not hold a wake forever. */
const STATEMENT_TIMEOUT_MS = 15_000;
const RELISTEN_DELAY_MS = 1_000;
const INT8_OID = 20;

/** BIGINT columns hold milliseconds and counters, far below 2^53: numbers, not strings. */
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

export async function openPostgresDatabase(url: string, applicationName: string): Promise<SqlDatabase> {
  const location = redactLocation(url);
  const config: pg.PoolConfig = {
    connectionString: url,
    max: POOL_SIZE,
    application_name: applicationName,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    statement_timeout: STATEMENT_TIMEOUT_MS,
    keepAlive: true,
    types,
  };
  const pool = new pg.Pool(config);
  // An idle connection that breaks (server restart) is dropped by the pool; the next query opens another.
  pool.on('error', () => {});
  try {
    await pool.query('SELECT 1');
  } catch (err) {
    await pool.end().catch(() => {});
    throw new Error(`could not connect to the control-plane state ${location}: ${(err as Error).message}`, { cause: err });
  }

  const listeners = new Map<string, Array<(payload: string) => void>>();
  let listener: pg.Client | undefined;
  let relisten: NodeJS.Timeout | undefined;
  let closed = false;

  async function startListening(): Promise<void> {
    if (closed || listener) return;
    const client = new pg.Client({ ...config, application_name: `${applicationName} (listen)` });
    listener = client;
    const retry = () => {
      if (listener !== client) return;
      listener = undefined;
      client.end().catch(() => {});
      if (!closed) relisten = setTimeout(() => void startListening(), RELISTEN_DELAY_MS).unref();
    };
    client.on('error', retry);
    client.on('end', retry);
    client.on('notification', (n) => {
      for (const l of listeners.get(n.channel) ?? []) l(n.payload ?? '');
    });
    try {
      await client.connect();
      for (const channel of listeners.keys()) await client.query(`LISTEN ${channel}`);
    } catch {
      // Waiters also poll, so a missing listener only slows them down; try again shortly.
      retry();
    }
  }

  const clientTx = (client: pg.PoolClient): SqlTx => ({
    query: async <T>(sql: string, params?: readonly SqlValue[]) => result<T>(await client.query(numbered(sql), params as SqlValue[])),
    notify: async (channel, payload) => {
      await client.query('SELECT pg_notify($1, $2)', [channel, payload]);
    },
  });

  return {
    dialect: 'postgres',
    location,
    nowMs: '(extract(epoch from clock_timestamp()) * 1000)::bigint',
    forUpdate: ' FOR UPDATE',
    forShare: ' FOR SHARE',
    query: async <T>(sql: string, params?: readonly SqlValue[]) => result<T>(await pool.query(numbered(sql), params as SqlValue[])),
    async transaction(fn) {
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        const value = await fn(clientTx(client));
        await client.query('COMMIT');
        return value;
      } catch (err) {
        await client.query('ROLLBACK').catch((rollbackErr: Error) => (broken = rollbackErr));
        throw err;
      } finally {
        client.release(broken);
      }
    },
    async openSession(purpose) {
      const client = new pg.Client({ ...config, application_name: `${applicationName} (${purpose})` });
      let open = true;
      const closed = () => (open = false);
      client.on('error', closed);
      client.on('end', closed);
      try {
        await client.connect();
      } catch (err) {
        throw new Error(`could not connect to the control-plane state ${location}: ${(err as Error).message}`, { cause: err });
      }
      const session: SqlSession = {
        query: async <T>(sql: string, params?: readonly SqlValue[]) => result<T>(await client.query(numbered(sql), params as SqlValue[])),
        get open() {
          return open;
        },
        async end() {
          open = false;
          await client.end().catch(() => {});
        },
      };
      return session;
    },
    async listen(channel, onPayload) {
      if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new Error(`channel name '${channel}' is not a plain identifier`);
      const known = listeners.get(channel);
      if (known) {
        known.push(onPayload);
        return;
      }
      listeners.set(channel, [onPayload]);
      if (listener) await listener.query(`LISTEN ${channel}`).catch(() => {});
      else await startListening();
    },
    async close() {
      closed = true;
      clearTimeout(relisten);
      const l = listener;
      listener = undefined;
      await l?.end().catch(() => {});
      await pool.end();
    },
  };
}

function result<T>(r: pg.QueryResult): SqlResult<T> {
  return { rows: r.rows as T[], count: r.rowCount ?? r.rows.length };
}

const numberedCache = new Map<string, string>();

/** `?` placeholders to PostgreSQL's `$1, $2, ...` (the store's SQL has no `?` inside literals). */
function numbered(sql: string): string {
  let out = numberedCache.get(sql);
  if (out === undefined) {
    let n = 0;
    out = sql.replace(/\?/g, () => `$${++n}`);
    if (numberedCache.size < 500) numberedCache.set(sql, out);
  }
  return out;
}
