// One login, as a comparable outcome: the same steps run directly against a compute
// and through the proxy, so a test compares the proxy with the server itself.
import mysql from 'mysql2/promise';
import { mariadbCli, pymysql } from './clients.js';

export type Outcome =
  | { ok: true; currentUser: string; afterLogin?: string }
  | { ok: false; code: number; sqlState?: string; message: string };

export interface Target {
  port: number;
  /** Prefix for user names: 'shop.' through the proxy, '' directly. */
  prefix: string;
}

/**
 * mysql2: logs in, then runs `sql` (default SELECT CURRENT_USER()). A statement
 * refused after login (the expired-password sandbox) shows as `afterLogin`.
 */
export async function mysql2Login(t: Target, user: string, password: string, o: { flags?: string; sql?: string } = {}): Promise<Outcome> {
  let conn;
  try {
    conn = await mysql.createConnection({
      host: '127.0.0.1',
      port: t.port,
      user: t.prefix + user,
      password,
      ...(o.flags ? { flags: [o.flags] } : {}),
    });
  } catch (err) {
    const e = err as { errno?: number; sqlState?: string; sqlMessage?: string; message: string };
    return { ok: false, code: e.errno ?? -1, ...(e.sqlState ? { sqlState: e.sqlState } : {}), message: e.sqlMessage ?? e.message };
  }
  try {
    const [rows] = await conn.query(o.sql ?? 'SELECT CURRENT_USER() AS u');
    const first = (rows as Array<Record<string, unknown>>)[0];
    return { ok: true, currentUser: String(first ? Object.values(first)[0] : '') };
  } catch (err) {
    const e = err as { errno?: number; sqlState?: string };
    return { ok: true, currentUser: '?', afterLogin: `${e.errno} ${e.sqlState}` };
  } finally {
    conn.destroy();
  }
}

/** The mariadb command line: `ERROR code (state): message` or the first output line. */
export async function cliLogin(t: Target, user: string, password: string, sql = 'SELECT CURRENT_USER()', extra: string[] = []): Promise<Outcome> {
  const res = await mariadbCli(t.port, t.prefix + user, password, sql, extra);
  const m = /^ERROR (\d+) \(([0-9A-Z]{5})\)(?: at line \d+)?: (.*)$/m.exec(res.stderr);
  if (m) {
    // After login (the sandbox), the CLI adds "at line 1": an error of the statement, not of the login.
    if (/ at line \d+/.test(res.stderr.split('\n').find((l) => l.startsWith('ERROR')) ?? '')) {
      return { ok: true, currentUser: '?', afterLogin: `${m[1]} ${m[2]}` };
    }
    return { ok: false, code: Number(m[1]), sqlState: m[2]!, message: m[3]! };
  }
  if (res.code !== 0) return { ok: false, code: -1, message: res.stderr.trim() };
  return { ok: true, currentUser: res.stdout.trim().split('\n')[0] ?? '' };
}

/** PyMySQL (no CLIENT_CAN_HANDLE_EXPIRED_PASSWORDS): `ERROR code: message`. */
export async function pymysqlLogin(t: Target, user: string, password: string, sql = 'SELECT CURRENT_USER()'): Promise<Outcome> {
  const res = await pymysql(t.port, t.prefix + user, password, sql);
  const m = /^ERROR (\d+): (.*)$/m.exec(res.stderr);
  if (m) return { ok: false, code: Number(m[1]), message: m[2]! };
  // Errors of a statement after login (the sandbox's 1820) end the script with a traceback.
  const late = /pymysql\.err\.\w+: \((\d+),/.exec(res.stderr);
  if (late) return { ok: true, currentUser: '?', afterLogin: late[1]! };
  if (res.code !== 0) return { ok: false, code: -1, message: res.stderr.trim().split('\n').slice(-1)[0] ?? '' };
  return { ok: true, currentUser: res.stdout.trim() };
}
