// One mysql.global_priv row (MariaDB 10.4+) as an Account, read as the 10.11 server
// reads it (sql_acl.cc, User_table_json):
//   - roles (is_role) are no accounts;
//   - a method without a `plugin` key (or an empty one) is mysql_native_password, and
//     a missing authentication_string is '' (no password): older tools leave root so;
//   - `auth_or` lists the methods in the order the server tries them, `{}` standing
//     for the top-level one;
//   - account_locked is true only when it is JSON true;
//   - PASSWORD EXPIRE is password_last_changed = 0; a missing password_last_changed
//     reads as 0 for the age check but is not "expired"; password_lifetime missing
//     is -1 (the server's default);
//   - CONNECTION ADMIN (bit 32 of `access`, or SUPER in a row older than 10.5.2, or
//     the all-ones value of a fresh install) on a loopback host is never blocked by
//     max_password_errors (ignore_max_password_errors).
//   - MAX_USER_CONNECTIONS, MAX_CONNECTIONS_PER_HOUR, MAX_QUERIES_PER_HOUR and
//     MAX_UPDATES_PER_HOUR are max_user_connections (-1: no connection at all),
//     max_connections, max_questions and max_updates, 0 or missing when not set;
//     MAX_STATEMENT_TIME is max_statement_time (seconds, a double).
// A row whose Priv is not a JSON object is kept, without methods, so the accounts
// keep their count (the stand-in pick depends on it) and no login passes it.
import { createHash } from 'node:crypto';
import { NATIVE_PASSWORD, plainAccount, type Account, type AuthMethod, type SslRequirement } from './account.js';

export interface GlobalPrivRow {
  user: string;
  host: string;
  /** The Priv column: JSON text, or already parsed (mysql2 parses what MariaDB marks as JSON). */
  priv: string | object;
}

interface RawMethod {
  plugin?: unknown;
  authentication_string?: unknown;
}

export interface Priv extends RawMethod {
  is_role?: unknown;
  account_locked?: unknown;
  auth_or?: unknown;
  access?: unknown;
  version_id?: unknown;
  ssl_type?: unknown;
  password_last_changed?: unknown;
  password_lifetime?: unknown;
  default_role?: unknown;
  max_user_connections?: unknown;
  max_connections?: unknown;
  max_questions?: unknown;
  max_updates?: unknown;
  max_statement_time?: unknown;
}

const VERIFIER = /^(|\*[0-9A-F]{40})$/;
const SSL: Record<number, SslRequirement> = { 0: 'none', 1: 'any', 2: 'x509', 3: 'specified' };
const CONNECTION_ADMIN_BIT = 32;
const SUPER_BIT = 15;
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '::1']);

/** A row as read: its text (what its version digests) and its Priv, null when that is not a JSON object. */
export interface ParsedRow {
  row: GlobalPrivRow;
  text: string;
  priv: Priv | null;
}

export function parseRow(row: GlobalPrivRow): ParsedRow {
  const text = typeof row.priv === 'string' ? row.priv : JSON.stringify(row.priv);
  let priv: Priv | null;
  try {
    priv = (typeof row.priv === 'string' ? JSON.parse(row.priv) : row.priv) as Priv;
  } catch {
    priv = null;
  }
  if (priv === null || typeof priv !== 'object' || Array.isArray(priv)) priv = null;
  return { row, text, priv };
}

export function isRoleRow(p: ParsedRow): boolean {
  return p.priv?.is_role === true;
}

/** The role SET DEFAULT ROLE named for the account, which its logins activate while it still has it. */
export function defaultRoleOf(p: ParsedRow): string | undefined {
  const role = p.priv?.default_role;
  return typeof role === 'string' && role !== '' ? role : undefined;
}

/** The account a row stands for; undefined for a role. */
export function accountFromRow(row: GlobalPrivRow): Account | undefined {
  return accountOf(parseRow(row));
}

export function accountOf({ row, text, priv }: ParsedRow): Account | undefined {
  const version = createHash('sha256').update(`${row.user}\u0000${row.host}\u0000${text}`).digest('base64url').slice(0, 22);
  // The server stores '' as '%' (CREATE USER x@''); an old row with '' reads the same.
  const host = row.host === '' ? '%' : row.host;
  if (priv === null) return unreadable(row.user, host, version);
  if (priv.is_role === true) return undefined;
  const lastChanged = integer(priv.password_last_changed);
  return {
    user: row.user,
    host,
    methods: methodsOf(priv),
    locked: priv.account_locked === true,
    passwordExpired: lastChanged === 0,
    passwordLastChanged: lastChanged ?? 0,
    passwordLifetime: integer(priv.password_lifetime) ?? -1,
    ssl: SSL[integer(priv.ssl_type) ?? 0] ?? 'specified',
    neverBlocked: LOOPBACK_HOSTS.has(host.toLowerCase()) && connectionAdmin(priv),
    resourceLimited: resourceLimited(priv),
    version,
    ...statementTime(priv),
  };
}

/** No method: no login passes it. */
function unreadable(user: string, host: string, version: string): Account {
  return plainAccount(user, host, [], version);
}

/** The methods in the server's order: `auth_or` lists them, `{}` standing for the top-level one. */
function methodsOf(priv: Priv): AuthMethod[] {
  const raw: RawMethod[] = Array.isArray(priv.auth_or)
    ? priv.auth_or.map((m: unknown) => {
        const method = (m !== null && typeof m === 'object' ? m : {}) as RawMethod;
        return method.plugin === undefined ? priv : method;
      })
    : [priv];
  return raw.map(methodOf);
}

function methodOf(m: RawMethod): AuthMethod {
  const plugin = typeof m.plugin === 'string' && m.plugin !== '' ? m.plugin : NATIVE_PASSWORD;
  if (plugin !== NATIVE_PASSWORD) return { plugin };
  const stored = typeof m.authentication_string === 'string' ? m.authentication_string.toUpperCase() : '';
  return VERIFIER.test(stored) ? { plugin, verifier: stored } : { plugin };
}

/** Any of the account's resource limits set; a value that is not a number counts as set. */
function resourceLimited(priv: Priv): boolean {
  return [priv.max_user_connections, priv.max_connections, priv.max_questions, priv.max_updates].some((v) => v !== undefined && v !== 0);
}

/** MAX_STATEMENT_TIME as SQL can take it back (a double; 0 or missing: none). */
function statementTime(priv: Priv): { statementTime?: string } {
  const t = priv.max_statement_time;
  return typeof t === 'number' && Number.isFinite(t) && t > 0 && t < 1e12 ? { statementTime: t.toFixed(6) } : {};
}

function integer(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? Math.trunc(v) : undefined;
}

function connectionAdmin(priv: Priv): boolean {
  const access = typeof priv.access === 'number' ? priv.access : 0;
  // {"access":18446744073709551615} (all privileges) parses to 2^64: no exact bits, but all of them.
  if (access >= 2 ** 64) return true;
  const bit = (n: number) => Math.floor(access / 2 ** n) % 2 === 1;
  if (bit(CONNECTION_ADMIN_BIT)) return true;
  const version = integer(priv.version_id) ?? 0;
  return version < 100502 && bit(SUPER_BIT);
}
