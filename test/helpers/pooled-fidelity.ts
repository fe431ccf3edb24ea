// What the pooled-mode fidelity tests share: one mariadbd, a session-pooled and a
// transaction-pooled proxy in front of it (a static backend with an accounts reader),
// and a way to run the same steps on each and on the server itself and compare what the
// client saw. The direct connection is the reference.
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import { startStandaloneMariadb, type StandaloneMariadb } from './standalone-mariadb.js';
import { READER, READER_SQL } from './mode-proxies.js';
import { startProxyProcess, type ProxyProcess } from './proxy-process.js';

const SETUP = `${READER_SQL}
CREATE DATABASE fid;
CREATE DATABASE secret;
CREATE USER 'other'@'%' IDENTIFIED BY 'other-secret';
GRANT SELECT, INSERT, CREATE, DROP ON fid.* TO 'other'@'%';
CREATE TABLE fid.kinds (
  i INT UNSIGNED NOT NULL PRIMARY KEY, d DECIMAL(10,3), s VARCHAR(20) CHARACTER SET utf8mb4,
  l VARCHAR(5) CHARACTER SET latin1, b BLOB, t DATETIME(3), j JSON, e ENUM('a','b'), bits BIT(5), f DOUBLE
);
INSERT INTO fid.kinds VALUES (1, 12.5, 'h\u00e9', 'x', 0x00ff, '2024-01-02 03:04:05.678', '{"k":1}', 'b', b'10101', 1.5);`;
// Made by app after the start (the init file has no user to be its definer).
const PROCEDURE = "CREATE PROCEDURE fid.several(IN n INT, OUT doubled INT) BEGIN SELECT n AS first; SELECT n + 1 AS second, 'two' AS label; SET doubled = n * 2; END";

export interface FidelityTargets {
  db: StandaloneMariadb;
  /** Every target by name: direct first (the reference), then each mode's proxy. */
  targets(): Array<[string, number]>;
  /** Runs `steps` against every target in turn; each pooled mode's answer must equal direct's (FIDELITY_DUMP=1 prints them). */
  sameAsDirect<T>(steps: (port: number, mode: string) => Promise<T>): Promise<Map<string, T>>;
  stop(): Promise<void>;
}

/**
 * The server (user `app`, databases `fid` and `secret`, user `other` on fid only) and a
 * proxy per mode of `modes` (default the pooled ones; `pipe` checks logins too).
 * `mariadbArgs`: more server options (`--character-set-server`); `initSql`: more setup, run as root.
 */
export async function startFidelityTargets(mariadbArgs: string[] = [], modes = ['session', 'transaction'], initSql = ''): Promise<FidelityTargets> {
  const db = await startStandaloneMariadb('app', 'app-secret', `${SETUP}\n${initSql}`, mariadbArgs);
  const proxies = new Map<string, ProxyProcess>();
  const stop = async () => {
    await Promise.all([...proxies.values()].map((p) => p.kill('SIGTERM')));
    await db.stop();
  };
  try {
    const admin = await mysql.createConnection({ host: db.host, port: db.port, user: db.user, password: db.password });
    await admin.query(PROCEDURE);
    await admin.end();
    for (const mode of modes) proxies.set(mode, await startPooledProxy(db, mode));
  } catch (err) {
    await stop();
    throw err;
  }
  const targets = (): Array<[string, number]> => [['direct', db.port], ...[...proxies].map(([mode, p]): [string, number] => [mode, p.port])];
  return {
    db,
    targets,
    async sameAsDirect(steps) {
      const seen = new Map<string, Awaited<ReturnType<typeof steps>>>();
      for (const [mode, port] of targets()) {
        seen.set(mode, await steps(port, mode));
        if (process.env.FIDELITY_DUMP) console.log(mode, JSON.stringify(seen.get(mode)));
      }
      const reference = seen.get('direct');
      for (const [mode, got] of seen) if (mode !== 'direct') assert.deepEqual(got, reference, `${mode} differs from direct`);
      return seen;
    },
    stop,
  };
}

/** A proxy pooling in `mode` in front of `db`, checking logins with its accounts reader (`passthrough`: a pipe whose compute judges them). */
export function startPooledProxy(db: StandaloneMariadb, mode: string): Promise<ProxyProcess> {
  if (mode === 'passthrough') return startProxyProcess(['--backend', `${db.host}:${db.port}`]);
  return startProxyProcess(['--backend', `${db.host}:${db.port}`, '--accounts-user', READER.user, '--accounts-password', READER.password, '--pool-mode', mode]);
}

/** A driver's answer as plain data (BigInt as text), for deepEqual. */
export function plain(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v)));
}

/** What mysql2 reports for one step: rows with every column's metadata, the OK's numbers, or the error. */
function seenByMysql2(result: unknown, fields: unknown): unknown {
  if (Array.isArray(result)) {
    const defs = (fields as mysql.FieldPacket[] | undefined)?.map((f) => ({
      name: f.name, orgName: f.orgName, table: f.table, orgTable: f.orgTable, db: f.db,
      characterSet: f.characterSet, columnLength: f.columnLength, type: f.columnType, flags: f.flags, decimals: f.decimals,
    }));
    return { rows: result, defs };
  }
  const { affectedRows, insertId, info, serverStatus, warningStatus, changedRows } = result as mysql.ResultSetHeader & { changedRows: number };
  return { affectedRows, insertId, info, serverStatus, warningStatus, changedRows };
}

export async function mysql2Steps(port: number, steps: string[], o: mysql.ConnectionOptions = {}, run?: (c: mysql.Connection, s: string) => Promise<[unknown, unknown]>): Promise<unknown[]> {
  const conn = await mysql.createConnection({ host: '127.0.0.1', port, user: 'app', password: 'app-secret', database: 'fid', ...o });
  const seen: unknown[] = [];
  try {
    for (const step of steps) {
      try {
        const [result, fields] = run ? await run(conn, step) : await conn.query(step);
        seen.push(seenByMysql2(result, fields));
      } catch (err) {
        const e = err as { errno?: number; sqlState?: string; sqlMessage?: string; message: string };
        seen.push({ errno: e.errno, sqlState: e.sqlState, message: e.sqlMessage ?? e.message });
      }
    }
  } finally {
    await conn.end();
  }
  return seen;
}

/** Steps of two clients of one user, taking turns: what each step answered (rows, OK numbers, or the error). */
export async function twoClients(port: number, steps: Array<[0 | 1, string]>): Promise<unknown[]> {
  const connect = () => mysql.createConnection({ host: '127.0.0.1', port, user: 'app', password: 'app-secret', database: 'fid' });
  const conns = [await connect(), await connect()];
  const seen: unknown[] = [];
  try {
    for (const [who, text] of steps) {
      try {
        const [result] = await conns[who]!.query(text);
        seen.push(Array.isArray(result) ? plain(result) : { affectedRows: (result as mysql.ResultSetHeader).affectedRows });
      } catch (err) {
        seen.push({ errno: (err as { errno?: number }).errno, message: (err as Error).message });
      }
    }
  } finally {
    for (const c of conns) c.destroy();
  }
  return seen;
}
