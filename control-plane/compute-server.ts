// A compute's server as the autoscaler sees it, through the control account
// (control-account.ts): its status (running threads, the buffer pool's pages
// and misses) and the two settings a resize changes online.
//
// innodb_buffer_pool_size changes online in MariaDB 10.11 but not always at
// once: before 10.11.12 the resize runs in the background and reports through
// Innodb_buffer_pool_resize_status; later releases finish it inside the SET.
// Either way the resize counts as done when the pool's own page count says
// so, and a shrink is waited for before the memory limit comes down.
import mysql from 'mysql2/promise';
import { SET_BUFFER_POOL, SET_MAX_CONNECTIONS, type ControlLogin } from './control-account.js';
import type { SizeResources } from './compute-size.js';
import type { ComputeEndpoint } from './drivers/driver.js';

/** What one status read gives. Counters are totals since the server started. */
export interface ServerStatus {
  /** Statements running now, the reading one excluded. */
  threadsRunning: number;
  threadsConnected: number;
  pageSize: number;
  poolBytes: number;
  pagesTotal: number;
  pagesData: number;
  pagesFree: number;
  /** Logical reads of the pool, and those that missed it and went to disk. */
  readRequests: number;
  reads: number;
  maxConnections: number;
  /** Empty, or the server's words about a resize under way or done. */
  resizeStatus: string;
}

export class ComputeSqlError extends Error {
  override readonly name = 'ComputeSqlError';
  constructor(
    message: string,
    /** The server's error number, when it answered one (1305: no such procedure, an older compute). */
    readonly errno?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const STATUS_NAMES = [
  'THREADS_RUNNING',
  'THREADS_CONNECTED',
  'INNODB_BUFFER_POOL_PAGES_TOTAL',
  'INNODB_BUFFER_POOL_PAGES_DATA',
  'INNODB_BUFFER_POOL_PAGES_FREE',
  'INNODB_BUFFER_POOL_READ_REQUESTS',
  'INNODB_BUFFER_POOL_READS',
  'INNODB_BUFFER_POOL_RESIZE_STATUS',
];
const STATUS_SQL = `SELECT VARIABLE_NAME AS n, VARIABLE_VALUE AS v FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME IN (${STATUS_NAMES.map((n) => `'${n}'`).join(', ')})`;
const SETTINGS_SQL = 'SELECT @@innodb_page_size AS page, @@innodb_buffer_pool_size AS pool, @@max_connections AS conns';

/** How often a resize's progress is read. */
const RESIZE_POLL_MS = 100;

/** One connection for the steps given, closed after; every failure names the compute's address. */
async function withConnection<T>(endpoint: ComputeEndpoint, login: ControlLogin, timeoutMs: number, fn: (c: mysql.Connection) => Promise<T>): Promise<T> {
  const where = `${endpoint.host}:${endpoint.port}`;
  let conn: mysql.Connection | undefined;
  const timer = setTimeout(() => conn?.destroy(), timeoutMs);
  try {
    conn = await mysql.createConnection({ host: endpoint.host, port: endpoint.port, user: login.user, password: login.password, connectTimeout: timeoutMs });
    return await fn(conn);
  } catch (err) {
    const e = err as { errno?: number; message: string };
    throw new ComputeSqlError(`compute at ${where}: ${e.message}`, e.errno, { cause: err });
  } finally {
    clearTimeout(timer);
    conn?.destroy();
  }
}

export function readServerStatus(endpoint: ComputeEndpoint, login: ControlLogin, timeoutMs: number): Promise<ServerStatus> {
  return withConnection(endpoint, login, timeoutMs, statusOf);
}

async function statusOf(conn: mysql.Connection): Promise<ServerStatus> {
  const [rows] = await conn.query<mysql.RowDataPacket[]>(STATUS_SQL);
  const [settings] = await conn.query<mysql.RowDataPacket[]>(SETTINGS_SQL);
  const v = new Map(rows.map((r) => [String(r.n).toUpperCase(), String(r.v)]));
  const num = (name: string): number => {
    const n = Number(v.get(name));
    if (!Number.isFinite(n) || n < 0) throw new Error(`status ${name} is '${v.get(name)}', not a count`);
    return n;
  };
  const s = settings[0] ?? {};
  const page = Number(s.page);
  const pool = Number(s.pool);
  const conns = Number(s.conns);
  if (!(page > 0) || !(pool > 0) || !(conns > 0)) throw new Error(`unexpected settings ${JSON.stringify(s)}`);
  return {
    // The read itself is one of the running statements.
    threadsRunning: Math.max(0, num('THREADS_RUNNING') - 1),
    threadsConnected: num('THREADS_CONNECTED'),
    pageSize: page,
    poolBytes: pool,
    pagesTotal: num('INNODB_BUFFER_POOL_PAGES_TOTAL'),
    pagesData: num('INNODB_BUFFER_POOL_PAGES_DATA'),
    pagesFree: num('INNODB_BUFFER_POOL_PAGES_FREE'),
    readRequests: num('INNODB_BUFFER_POOL_READ_REQUESTS'),
    reads: num('INNODB_BUFFER_POOL_READS'),
    maxConnections: conns,
    resizeStatus: v.get('INNODB_BUFFER_POOL_RESIZE_STATUS') ?? '',
  };
}

/**
 * Sets the buffer pool and max_connections for `size` and waits, within
 * timeoutMs, until the pool has its new size. A pool that cannot shrink in
 * time is an error: its memory limit must not come down then.
 */
export function setServerSize(endpoint: ComputeEndpoint, login: ControlLogin, size: SizeResources, timeoutMs: number): Promise<ServerStatus> {
  return withConnection(endpoint, login, timeoutMs, async (conn) => {
    const deadline = Date.now() + timeoutMs;
    await conn.query(`CALL ${SET_MAX_CONNECTIONS}(?)`, [size.maxConnections]);
    await conn.query(`CALL ${SET_BUFFER_POOL}(?)`, [size.bufferPoolBytes]);
    for (;;) {
      const s = await statusOf(conn);
      if (poolSettled(s, size.bufferPoolBytes)) return s;
      if (Date.now() > deadline) {
        throw new Error(`buffer pool not at ${size.bufferPoolBytes} bytes within ${timeoutMs} ms (setting ${s.poolBytes}, ${s.pagesTotal} pages of ${s.pageSize}; '${s.resizeStatus}')`);
      }
      await new Promise((r) => setTimeout(r, RESIZE_POLL_MS));
    }
  });
}

/**
 * Whether the pool is the wanted size: the setting says so, no resize is
 * under way, and its pages (a few are kept for the server's own use) fill no
 * more than the size and most of it.
 */
export function poolSettled(s: ServerStatus, wantBytes: number): boolean {
  if (s.poolBytes !== wantBytes) return false;
  if (s.resizeStatus !== '' && !/completed/i.test(s.resizeStatus)) return false;
  const bytes = s.pagesTotal * s.pageSize;
  return bytes <= wantBytes && bytes >= wantBytes * 0.9;
}
