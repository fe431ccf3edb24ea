// One login by each client (mysql2, the npm mariadb connector, the mariadb command
// line), as one comparable line: `ok USER() CURRENT_USER() DATABASE()`, or the error's
// code, SQLSTATE and text. The login-name sweeps run them directly and through proxies.
import mysql from 'mysql2/promise';
import mariadb from 'mariadb';
import { mariadbCli } from './clients.js';

export interface Login {
  user: string;
  password: string;
  database?: string;
  /** The handshake's collation (mysql2's and the connector's name for it). */
  charset?: string;
}

export type Client = (port: number, l: Login) => Promise<string>;

const WHO = 'SELECT USER() AS u, CURRENT_USER() AS c, DATABASE() AS d';
const said = (row: Record<string, unknown>) => `ok ${row.u} ${row.c} ${row.d}`;

const viaMysql2: Client = async (port, l) => {
  let conn;
  try {
    conn = await mysql.createConnection({ host: '127.0.0.1', port, user: l.user, password: l.password, ...(l.database !== undefined ? { database: l.database } : {}), ...(l.charset ? { charset: l.charset } : {}) });
  } catch (err) {
    const e = err as { errno?: number; sqlState?: string; sqlMessage?: string; message: string };
    return `${e.errno} ${e.sqlState} ${e.sqlMessage ?? e.message}`;
  }
  try {
    const [rows] = await conn.query(WHO);
    return said((rows as Array<Record<string, unknown>>)[0]!);
  } finally {
    conn.destroy();
  }
};

const viaConnector: Client = async (port, l) => {
  let conn;
  try {
    conn = await mariadb.createConnection({ host: '127.0.0.1', port, user: l.user, password: l.password, connectTimeout: 20_000, ...(l.database !== undefined ? { database: l.database } : {}), ...(l.charset ? { collation: l.charset } : {}) });
  } catch (err) {
    const e = err as { errno?: number; sqlState?: string; text?: string; message: string };
    return `${e.errno} ${e.sqlState} ${e.text ?? e.message}`;
  }
  try {
    const rows = (await conn.query(WHO)) as Array<Record<string, unknown>>;
    return said(rows[0]!);
  } finally {
    conn.destroy();
  }
};

const viaCli: Client = async (port, l) => {
  const extra = [...(l.database !== undefined ? ['-D', l.database] : []), ...(l.charset ? [`--default-character-set=${l.charset.replace(/_.*/, '')}`] : [])];
  const res = await mariadbCli(port, l.user, l.password, WHO, extra);
  const m = /^ERROR (\d+) \(([0-9A-Z]{5})\)(?: at line \d+)?: (.*)$/m.exec(res.stderr);
  if (m) return `${m[1]} ${m[2]} ${m[3]}`;
  if (res.code !== 0) return `exit ${res.code} ${res.stderr.trim()}`;
  return `ok ${res.stdout.trim().replaceAll('\t', ' ')}`;
};

export const CLIENTS: Record<string, Client> = { mysql2: viaMysql2, mariadb: viaConnector, cli: viaCli };

/** A login in a line: long runs of one character shortened. */
export function describeLogin(l: Login): string {
  return JSON.stringify(l).replace(/(.)\1{9,}/g, (run, c: string) => `${c}×${run.length}`);
}

