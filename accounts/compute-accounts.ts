// Reading a compute's accounts: every mysql.global_priv row (global-priv.ts turns
// each into an Account) in the server's order (account-order.ts), the server
// settings a login depends on, and the names of its stored code that transaction
// pooling must pin on (stored-code.ts). One connection, three queries, closed.
//
// What a user name is served as (user-accounts.ts) is chosen from this list, so it
// keeps every account, locked ones and the reader's own included: the server's
// answer to an unknown user depends on how many accounts there are.
import mysql from 'mysql2';
import { accountFromRow, type GlobalPrivRow } from './global-priv.js';
import { sortAccounts } from './account-order.js';
import type { Account, AccountPolicy } from './account.js';
import { STORED_CODE_PROCEDURE, hazardsOf, storedObjectsFromRows, type StoredCode } from './stored-code.js';

/** Where to read, and as whom: an account that may SELECT from mysql.global_priv (and EXECUTE the stored-code procedure). */
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
  'SELECT @@default_password_lifetime AS l, @@disconnect_on_expired_password AS d, @@max_password_errors AS m';

/** Every account of the rows but roles, in the server's order. */
export function accountsFromRows(rows: GlobalPrivRow[]): Account[] {
  const accounts: Account[] = [];
  for (const row of rows) {
    const account = accountFromRow(row);
    if (account) accounts.push(account);
  }
  return sortAccounts(accounts);
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

export class AccountReadError extends Error {
  override readonly name = 'AccountReadError';
}

/** What one read of a compute gives. */
export interface AccountsRead {
  accounts: Account[];
  policy: AccountPolicy;
  /** Unknown (names null) when the procedure is missing or refused: the accounts are read all the same. */
  storedCode: StoredCode;
}

/**
 * One connection, three queries, closed: the compute's accounts, settings and stored
 * code. Bounded by timeoutMs from connect to answer; past it the socket is destroyed
 * (a frozen compute accepts TCP but never greets).
 */
export function readAccounts(endpoint: AccountsEndpoint, login: AccountsLogin, timeoutMs: number): Promise<AccountsRead> {
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
    const finish = (err: Error | undefined, read?: AccountsRead) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) {
        conn.destroy();
        reject(err);
      } else {
        // A polite COM_QUIT, so the server does not log an aborted connection.
        conn.end(() => {});
        resolve(read!);
      }
    };
    const timer = setTimeout(() => finish(new AccountReadError(`no answer from ${where} within ${timeoutMs} ms`)), timeoutMs);
    conn.on('error', (err) => finish(new AccountReadError(`connection to ${where}: ${err.message}`, { cause: err })));
    conn.query(GLOBAL_PRIV_SQL, (err, result) => {
      if (err) return finish(new AccountReadError(`reading mysql.global_priv on ${where}: ${err.message}`, { cause: err }));
      const raw = result as Array<{ User: unknown; Host: unknown; Priv: unknown }>;
      if (raw.length > MAX_ACCOUNTS) return finish(new AccountReadError(`${where} has ${raw.length} accounts, over ${MAX_ACCOUNTS}`));
      const rows = raw.map((r) => ({
        user: text(r.User),
        host: text(r.Host),
        priv: r.Priv !== null && typeof r.Priv === 'object' && !Buffer.isBuffer(r.Priv) ? r.Priv : text(r.Priv),
      }));
      conn.query(POLICY_SQL, (err2, settings) => {
        if (err2) return finish(new AccountReadError(`reading login settings on ${where}: ${err2.message}`, { cause: err2 }));
        let read: Omit<AccountsRead, 'storedCode'>;
        try {
          read = { accounts: accountsFromRows(rows), policy: policyFromRow((settings as Array<{ l: unknown; d: unknown; m: unknown }>)[0]) };
        } catch (e) {
          return finish(e as Error);
        }
        const readAt = new Date().toISOString();
        conn.query(`CALL ${STORED_CODE_PROCEDURE}()`, (err3, answer) => {
          if (err3) return finish(undefined, { ...read, storedCode: { readAt, names: null, reason: `calling ${STORED_CODE_PROCEDURE}: ${err3.message}` } });
          try {
            // A CALL answers its result set, then the procedure's own OK.
            const { names, procedures } = hazardsOf(storedObjectsFromRows((answer as unknown[])[0]));
            finish(undefined, { ...read, storedCode: { readAt, names, procedures } });
          } catch (e) {
            finish(undefined, { ...read, storedCode: { readAt, names: null, reason: (e as Error).message } });
          }
        });
      });
    });
  });
}

function text(v: unknown): string {
  if (typeof v === 'string') return v;
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  return v === null || v === undefined ? '' : String(v);
}
