// The compressed protocol on the client hop (CLIENT_COMPRESS): the proxy offers it in
// every mode and speaks it with clients that ask, the compute hop staying plain. Real
// clients (mysql2 and the mariadb connector with `compress: true`, `mariadb -C`) get
// what they get from MariaDB directly with compression: a row over 16 MiB (one MySQL
// packet split across compressed packets) and many small rows (many MySQL packets per
// compressed packet). The proxy's byte counts show the wire was compressed.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import mysql from 'mysql2/promise';
import * as mariadb from 'mariadb';
import type { StandaloneMariadb } from '../helpers/standalone-mariadb.js';
import type { ProxyProcess } from '../helpers/proxy-process.js';
import { MODES, startModeProxies, type ModeProxies } from '../helpers/mode-proxies.js';
import { mariadbCli } from '../helpers/clients.js';

let db: StandaloneMariadb;
let proxies: Map<string, ProxyProcess>;
let stack: ModeProxies | undefined;

before(async () => {
  stack = await startModeProxies();
  ({ db, proxies } = stack);
});
after(async () => {
  await stack?.stop();
});

/** One row of 600,000 MD5s: 19.2 MB, more than a MySQL packet's 16 MiB. */
const LARGE_ROW = 'SET STATEMENT group_concat_max_len = 67108864 FOR SELECT GROUP_CONCAT(MD5(seq) SEPARATOR \'\') AS v FROM mysql.seq_1_to_600000';
/** 100,000 small rows. */
const MANY_ROWS = 'SELECT seq AS n, MD5(seq) AS h FROM mysql.seq_1_to_100000';

function digest(value: unknown): string {
  // The mariadb connector answers BIGINT columns as bigint.
  return createHash('sha256').update(JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))).digest('hex');
}

async function viaMysql2(port: number): Promise<string[]> {
  const c = await mysql.createConnection({ host: '127.0.0.1', port, user: 'app', password: 'app-secret', compress: true });
  try {
    const out: string[] = [];
    for (const sql of [LARGE_ROW, MANY_ROWS]) out.push(digest((await c.query(sql))[0]));
    return out;
  } finally {
    await c.end();
  }
}

async function viaMariadbConnector(port: number): Promise<string[]> {
  const c = await mariadb.createConnection({ host: '127.0.0.1', port, user: 'app', password: 'app-secret', compress: true });
  try {
    const out: string[] = [];
    for (const sql of [LARGE_ROW, MANY_ROWS]) out.push(digest(Array.from(await c.query(sql))));
    return out;
  } finally {
    await c.end();
  }
}

async function viaCli(port: number): Promise<string[]> {
  const out: string[] = [];
  for (const sql of [LARGE_ROW, MANY_ROWS]) {
    const r = await mariadbCli(port, 'app', 'app-secret', sql, ['--compress', '--skip-ssl', '--max-allowed-packet=64M']);
    assert.equal(r.code, 0, r.stderr);
    out.push(createHash('sha256').update(r.stdout).digest('hex'));
  }
  return out;
}

const CLIENTS: Record<string, (port: number) => Promise<string[]>> = {
  mysql2: viaMysql2,
  'mariadb connector': viaMariadbConnector,
  'mariadb -C': viaCli,
};
/** Sessions a client's run opens (the CLI one per statement): all of them logged closed before its test ends. */
const SESSIONS: Record<string, number> = { mysql2: 1, 'mariadb connector': 1, 'mariadb -C': 2 };

for (const [client, run] of Object.entries(CLIENTS)) {
  test(`${client} with compression gets through every mode what it gets directly`, async () => {
    const direct = await run(db.port);
    // Every mode at once: each its own proxy process (whose log is read), compressing on its own.
    await Promise.all(
      Object.keys(MODES).map(async (mode) => {
        const proxy = proxies.get(mode)!;
        const seen = proxy.lines.length;
        assert.deepEqual(await run(proxy.port), direct, mode);
        // The session's wire bytes: compressed, far fewer than the 19 MB and 3.6 MB of results.
        await until(() => proxy.lines.slice(seen).filter((l) => l.includes('"session closed"')).length >= SESSIONS[client]!);
        const closed = proxy.lines.slice(seen).map((l) => JSON.parse(l)).filter((r) => r.msg === 'session closed');
        const out = Math.max(...closed.map((r) => r.bytesOut as number));
        assert.ok(out < 15_000_000, `${mode}: ${out} bytes sent to the client`);
      }),
    );
  });
}

test('a client that does not ask for compression gets none', async () => {
  for (const mode of Object.keys(MODES)) {
    const proxy = proxies.get(mode)!;
    const seen = proxy.lines.length;
    const c = await mysql.createConnection({ host: '127.0.0.1', port: proxy.port, user: 'app', password: 'app-secret' });
    const [rows] = await c.query(MANY_ROWS);
    assert.equal((rows as unknown[]).length, 100_000);
    await c.end();
    await until(() => proxy.lines.slice(seen).some((l) => l.includes('"session closed"')));
    const closed = proxy.lines.slice(seen).map((l) => JSON.parse(l)).find((r) => r.msg === 'session closed');
    assert.ok(closed.bytesOut > 3_600_000, `${mode}: ${closed.bytesOut} bytes, uncompressed`);
  }
});

async function until(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}
