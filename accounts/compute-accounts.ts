// Reading a compute's accounts: every mysql.global_priv row (global-priv.ts turns
// each into an Account) in the server's order (account-order.ts), what accounts with
// a default role take from it (mysql.roles_mapping, default-roles.ts), the server
// settings a login depends on, and the names of its stored code that transaction
// pooling must pin on (stored-code.ts). One connection, three or four queries, closed.
//
// What a user name is served as (user-accounts.ts) is chosen from this list, so it
// keeps every account, locked ones and the reader's own included: the server's
// answer to an unknown user depends on how many accounts there are.
import mysql from 'mysql2';
import { accountOf, defaultRoleOf, isRoleRow, parseRow, type GlobalPrivRow, type ParsedRow } from './global-priv.js';
import { foldDefaultRoles, type DefaultRoleHolder, type RoleGrant } from './default-roles.js';
import { sortAccounts } from './account-order.js';
import type { Account, AccountPolicy } from './account.js';
import { STORED_CODE_PROCEDURE, hazardsOf, storedObjectsFromRows, type StoredCode } from './stored-code.js';

/** Where to read, and as whom: an account that may SELECT from mysql.global_priv and mysql.roles_mapping (and EXECUTE the stored-code procedure). */
export interface AccountsEndpoint {
  host: string;
  port: number;
}
export interface AccountsLogin {
  user: string;
  password: string;
}

/** More accounts than this on one compute: the read fails (the last good one stays served). */
export const MAX_ACCOUNTS = 50_000;

const GLOBAL_PRIV_SQL = 'SELECT User, Host, Priv FROM mysql.global_priv';
const POLICY_SQL =
  'SELECT @@default_password_lifetime AS l, @@disconnect_on_expired_password AS d, @@max_password_errors AS m, @@GLOBAL.max_user_connections AS u';

const ROLES_MAPPING_SQL = 'SELECT Host, User, Role FROM mysql.roles_mapping';

/** What else a read knows that bears on the accounts. */
export interface AccountsContext {
  /** mysql.roles_mapping's rows; null when they could not be read (default-roles.ts). */
  grants: readonly RoleGrant[] | null;
  /** The server's @@GLOBAL.max_user_connections (a session reads its own account's limit there): when set, it limits every account. */
  serverUserConnections: number;
}

/** Every account of the rows but roles, in the server's order. */
export function accountsFromRows(rows: GlobalPrivRow[], context: AccountsContext = { grants: [], serverUserConnections: 0 }): Account[] {
  return accountsFromParsed(rows.map(parseRow), context);
}

function accountsFromParsed(rows: readonly ParsedRow[], { grants, serverUserConnections }: AccountsContext): Account[] {
  const accounts: Account[] = [];
  const roleRows = new Map<string, string>();
  const holders: DefaultRoleHolder[] = [];
  for (const parsed of rows) {
    if (isRoleRow(parsed)) {
      roleRows.set(parsed.row.user, parsed.text);
      continue;
    }
    const account = accountOf(parsed)!;
    if (serverUserConnections !== 0) account.resourceLimited = true;
    accounts.push(account);
    const role = defaultRoleOf(parsed);
    if (role !== undefined) holders.push({ account, storedHost: parsed.row.host, role });
  }
  foldDefaultRoles(holders, roleRows, grants);
  return sortAccounts(accounts);
}

/** Whether any account's logins activate a role: only then is mysql.roles_mapping read. */
export function anyDefaultRole(rows: readonly ParsedRow[]): boolean {
  return rows.some((parsed) => !isRoleRow(parsed) && defaultRoleOf(parsed) !== undefined);
}

/** The settings row, checked: anything unexpected is an error, never a default. */
export function policyFromRow(row: { l: unknown; d: unknown; m: unknown } | undefined): AccountPolicy {
  const n = (v: unknown) => (typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : NaN);
  const lifetime = n(row?.l);
  const disconnect = n(row?.d);
  const maxErrors = n(row?.m);
  if (!Number.isSafeInteger(lifetime) || lifetime < 0 || (disconnect !== 0 && disconnect !== 1) || !Number.isSafeInteger(maxErrors) || maxErrors < 1) {
    throw new AccountReadError(`unexpected server settings: ${JSON.stringify(row)}`);
  }
  return { defaultPasswordLifetime: lifetime, disconnectOnExpiredPassword: disconnect === 1, maxPasswordErrors: maxErrors };
}

/** The server's max_user_connections from the settings row, checked like the rest of it. */
export function serverUserConnectionsFromRow(row: { u?: unknown } | undefined): number {
  const u = typeof row?.u === 'number' ? row.u : typeof row?.u === 'string' && /^\d+$/.test(row.u) ? Number(row.u) : NaN;
  if (!Number.isSafeInteger(u) || u < 0) throw new AccountReadError(`unexpected server max_user_connections: ${JSON.stringify(row?.u)}`);
  return u;
}

export class AccountReadError extends Error {
  override readonly name = 'AccountReadError';
}

/** What one read of a compute gives. */
export interface AccountsRead {
  accounts: Account[];
  policy: AccountPolicy;
  /** Unknown (names null) when the procedure is missing or refused: the accounts are read all the same. */
  storedCode: StoredCode;
  /** Why mysql.roles_mapping went unread though an account has a default role (default-roles.ts); absent when read or not needed. */
  rolesUnread?: string;
}

/**
 * One connection, three or four queries, closed: the compute's accounts, settings and
 * stored code. Bounded by timeoutMs from connect to answer; past it the socket is
 * destroyed (a frozen compute accepts TCP but never greets).
 */
export async function readAccounts(endpoint: AccountsEndpoint, login: AccountsLogin, timeoutMs: number): Promise<AccountsRead> {
  const where = `${endpoint.host}:${endpoint.port}`;
  const conn = mysql.createConnection({
    host: endpoint.host,
    port: endpoint.port,
    user: login.user,
    password: login.password,
    connectTimeout: timeoutMs,
    charset: 'utf8mb4',
  });
  let timer: NodeJS.Timeout | undefined;
  const broken = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new AccountReadError(`no answer from ${where} within ${timeoutMs} ms`)), timeoutMs);
    conn.on('error', (err) => reject(new AccountReadError(`connection to ${where}: ${err.message}`, { cause: err })));
  });
  const query = (sql: string) =>
    new Promise<unknown>((resolve, reject) => conn.query(sql, (err, result) => (err ? reject(err) : resolve(result))));
  try {
    const read = await Promise.race([readAll(query, where), broken]);
    // A polite COM_QUIT, so the server does not log an aborted connection.
    conn.end(() => {});
    return read;
  } catch (err) {
    conn.destroy();
    throw err;
  } finally {
    clearTimeout(timer);
    broken.catch(() => {});
  }
}

async function readAll(query: (sql: string) => Promise<unknown>, where: string): Promise<AccountsRead> {
  const failed = (what: string) => (err: Error) => {
    throw new AccountReadError(`${what} on ${where}: ${err.message}`, { cause: err });
  };
  const raw = (await query(GLOBAL_PRIV_SQL).catch(failed('reading mysql.global_priv'))) as Array<{ User: unknown; Host: unknown; Priv: unknown }>;
  if (raw.length > MAX_ACCOUNTS) throw new AccountReadError(`${where} has ${raw.length} accounts, over ${MAX_ACCOUNTS}`);
  const rows = raw.map((r) =>
    parseRow({
      user: text(r.User),
      host: text(r.Host),
      priv: r.Priv !== null && typeof r.Priv === 'object' && !Buffer.isBuffer(r.Priv) ? r.Priv : text(r.Priv),
    }),
  );
  let grants: RoleGrant[] | null = [];
  let rolesUnread: string | undefined;
  if (anyDefaultRole(rows)) {
    try {
      const mapping = (await query(ROLES_MAPPING_SQL)) as Array<{ Host: unknown; User: unknown; Role: unknown }>;
      grants = mapping.map((r) => ({ host: text(r.Host), user: text(r.User), role: text(r.Role) }));
    } catch (err) {
      grants = null;
      rolesUnread = `reading mysql.roles_mapping: ${(err as Error).message}`;
    }
  }
  const settings = (await query(POLICY_SQL).catch(failed('reading login settings'))) as Array<{ l: unknown; d: unknown; m: unknown; u: unknown }>;
  const accounts = accountsFromParsed(rows, { grants, serverUserConnections: serverUserConnectionsFromRow(settings[0]) });
  const policy = policyFromRow(settings[0]);
  const readAt = new Date().toISOString();
  const storedCode: StoredCode = await query(`CALL ${STORED_CODE_PROCEDURE}()`).then(
    (answer) => {
      try {
        // A CALL answers its result set, then the procedure's own OK.
        return { readAt, ...hazardsOf(storedObjectsFromRows((answer as unknown[])[0])) };
      } catch (e) {
        return { readAt, names: null, reason: (e as Error).message };
      }
    },
    (err: Error) => ({ readAt, names: null, reason: `calling ${STORED_CODE_PROCEDURE}: ${err.message}` }),
  );
  return rolesUnread === undefined ? { accounts, policy, storedCode } : { accounts, policy, storedCode, rolesUnread };
}

function text(v: unknown): string {
  if (typeof v === 'string') return v;
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  return v === null || v === undefined ? '' : String(v);
}
