// Reading a compute's accounts (MariaDB 10.4+ `mysql.global_priv`) and turning
// them into one role per user name, as the proxy asks for them: the plugin it
// must answer and, for mysql_native_password, the verifier MariaDB stores.
//
// One account per user name, because the proxy knows the name but not which
// host pattern the compute will match for its address:
//   - roles (is_role), locked accounts, the anonymous user and the control
//     plane's own account are left out;
//   - of the rest, the account with Host '%' wins, otherwise the first in Host
//     order (a user with only 'localhost' or '10.%' accounts is served from one
//     of them; the compute still decides at login);
//   - an account with alternatives (IDENTIFIED VIA a OR b) is served with the
//     first method, in the order the server tries them, that can work through a
//     proxy (not unix_socket, named_pipe or mysql_old_password; not a
//     mysql_native_password whose string is no verifier, like root's 'invalid').
//     An account with no such method is served by its last method alone, without
//     a verifier, so the proxy refuses it without waking anything;
//   - a method without a `plugin` key is mysql_native_password, as the server
//     reads it (older tools leave root that way).
import mysql from 'mysql2';
import { NATIVE_PASSWORD_PLUGIN, unusableThroughProxy } from '../protocol/index.js';

/** Where to read, and as whom: an account that may SELECT from mysql.global_priv. */
export interface AccountsEndpoint {
  host: string;
  port: number;
}
export interface AccountsLogin {
  user: string;
  password: string;
}

/**
 * One user's role as stored and served. `verifier` only for mysql_native_password
 * ('' = no password); a native role without one has no hash any password can match.
 */
export interface StoredRole {
  user: string;
  plugin: string;
  verifier?: string;
}

/** What the control plane last read from a compute; kept in its record. */
export interface ComputeAccounts {
  readAt: string;
  /** Sorted by user; an array, not an object, so no user name can collide with a prototype key. */
  roles: StoredRole[];
}

export interface GlobalPrivRow {
  user: string;
  host: string;
  /** The Priv column: JSON text, or already parsed (mysql2 parses what MariaDB marks as JSON). */
  priv: string | object;
}

/** More than this many users on one compute: the rest are not served (and a warning says so). */
export const MAX_ROLES = 10_000;

const VERIFIER = /^(|\*[0-9A-F]{40})$/;
const GLOBAL_PRIV_SQL = 'SELECT User, Host, Priv FROM mysql.global_priv';

interface AuthMethod {
  plugin?: unknown;
  authentication_string?: unknown;
}

interface Priv extends AuthMethod {
  is_role?: unknown;
  account_locked?: unknown;
  auth_or?: unknown;
}

/** The roles to serve from a compute's accounts (see the file's header for the rules). */
export function rolesFromGlobalPriv(rows: GlobalPrivRow[], reserved: ReadonlySet<string>): { roles: StoredRole[]; dropped: number } {
  const byUser = new Map<string, { host: string; role: StoredRole }>();
  for (const row of rows) {
    if (row.user === '' || reserved.has(row.user)) continue;
    const role = roleOf(row);
    if (!role) continue;
    const seen = byUser.get(row.user);
    if (!seen || hostRank(row.host, seen.host) < 0) byUser.set(row.user, { host: row.host, role });
  }
  const roles = [...byUser.values()].map((e) => e.role).sort((a, b) => (a.user < b.user ? -1 : a.user > b.user ? 1 : 0));
  return { roles: roles.slice(0, MAX_ROLES), dropped: Math.max(0, roles.length - MAX_ROLES) };
}

function roleOf(row: GlobalPrivRow): StoredRole | undefined {
  let priv: Priv;
  try {
    priv = (typeof row.priv === 'string' ? JSON.parse(row.priv) : row.priv) as Priv;
  } catch {
    return undefined;
  }
  if (priv === null || typeof priv !== 'object' || priv.is_role === true || priv.account_locked === true) return undefined;
  // With no method that can work, the server's answer is that of the last one it tries.
  let last: StoredRole | undefined;
  for (const method of methodsOf(priv)) {
    const plugin = pluginOf(method);
    if (plugin === undefined) continue;
    last = { user: row.user, plugin };
    if (unusableThroughProxy(plugin)) continue;
    if (plugin !== NATIVE_PASSWORD_PLUGIN) return { user: row.user, plugin };
    const verifier = typeof method.authentication_string === 'string' ? method.authentication_string.toUpperCase() : '';
    if (VERIFIER.test(verifier)) return { user: row.user, plugin, verifier };
  }
  return last;
}

/** The server reads a missing or empty plugin as mysql_native_password; anything else odd is no method. */
function pluginOf(method: AuthMethod): string | undefined {
  if (method.plugin === undefined || method.plugin === '') return NATIVE_PASSWORD_PLUGIN;
  return typeof method.plugin === 'string' ? method.plugin : undefined;
}

/** The methods in the server's order: `auth_or` lists them, `{}` standing for the top-level one. */
function methodsOf(priv: Priv): AuthMethod[] {
  if (!Array.isArray(priv.auth_or)) return [priv];
  return priv.auth_or.map((m: unknown) => {
    const method = (m ?? {}) as AuthMethod;
    return method.plugin === undefined ? priv : method;
  });
}

/** Negative when host a is preferred to host b. */
function hostRank(a: string, b: string): number {
  if (a === b) return 0;
  if (a === '%') return -1;
  if (b === '%') return 1;
  return a < b ? -1 : 1;
}

export class AccountReadError extends Error {
  override readonly name = 'AccountReadError';
}

/**
 * One connection, one query, closed: the compute's global_priv rows. Bounded by
 * timeoutMs from connect to answer; past it the socket is destroyed (a frozen
 * compute accepts TCP but never greets).
 */
export function readGlobalPriv(endpoint: AccountsEndpoint, login: AccountsLogin, timeoutMs: number): Promise<GlobalPrivRow[]> {
  return new Promise((resolve, reject) => {
    const where = `${endpoint.host}:${endpoint.port}`;
    const conn = mysql.createConnection({
      host: endpoint.host,
      port: endpoint.port,
      user: login.user,
      password: login.password,
      connectTimeout: timeoutMs,
      charset: 'utf8mb4',
    });
    let settled = false;
    const finish = (err: Error | undefined, rows?: GlobalPrivRow[]) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) {
        conn.destroy();
        reject(err);
      } else {
        // A polite COM_QUIT, so the server does not log an aborted connection.
        conn.end(() => {});
        resolve(rows!);
      }
    };
    const timer = setTimeout(() => finish(new AccountReadError(`no answer from ${where} within ${timeoutMs} ms`)), timeoutMs);
    conn.on('error', (err) => finish(new AccountReadError(`connection to ${where}: ${err.message}`, { cause: err })));
    conn.query(GLOBAL_PRIV_SQL, (err, result) => {
      if (err) return finish(new AccountReadError(`reading mysql.global_priv on ${where}: ${err.message}`, { cause: err }));
      const rows = (result as Array<{ User: unknown; Host: unknown; Priv: unknown }>).map((r) => ({
        user: text(r.User),
        host: text(r.Host),
        priv: r.Priv !== null && typeof r.Priv === 'object' && !Buffer.isBuffer(r.Priv) ? r.Priv : text(r.Priv),
      }));
      finish(undefined, rows);
    });
  });
}

function text(v: unknown): string {
  if (typeof v === 'string') return v;
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  return v === null || v === undefined ? '' : String(v);
}
