// A client that half-closes and then reads nothing does not keep its session, nor a
// pooled compute connection, for good: once a write to it makes no progress for the
// proxy's bound (MariaDB's net_write_timeout, 60 s by default; 1 s here) the session
// ends, in every mode. A half-closed client that waits for a long statement, with
// nothing to read yet, is left alone and gets its reply.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import { startStandaloneMariadb, type StandaloneMariadb } from '../helpers/standalone-mariadb.js';
import { MODES, READER_SQL, startModeProxy } from '../helpers/mode-proxies.js';
import { exchange, query } from '../helpers/wire-exchange.js';
import { wireSession } from '../helpers/wire-login.js';
import type { ProxyServer } from '../../proxy/server.js';

/** About 64 MB of rows: more than the socket buffers between compute, proxy and client hold. */
const LARGE = 'SELECT REPEAT(MD5(seq), 1000) AS v FROM mysql.seq_1_to_2000';

let db: StandaloneMariadb;
let admin: mysql.Connection;
const proxies = new Map<string, ProxyServer>();
const stops: Array<() => Promise<void>> = [];

before(async () => {
  db = await startStandaloneMariadb('app', 'app-secret', READER_SQL);
  admin = await mysql.createConnection({ host: db.host, port: db.port, user: db.user, password: db.password });
  for (const mode of Object.keys(MODES)) {
    const { proxy, stop } = await startModeProxy(mode, db, { halfClosedWriteTimeoutMs: 1_000 });
    proxies.set(mode, proxy);
    stops.push(stop);
  }
});
after(async () => {
  for (const stop of stops) await stop();
  await admin?.end();
  await db?.stop();
});

async function running(sql: string): Promise<number> {
  const [rows] = await admin.query('SELECT ID FROM information_schema.PROCESSLIST WHERE INFO = ?', [sql]);
  return (rows as unknown[]).length;
}

for (const mode of Object.keys(MODES)) {
  test(`${mode}: a client that half-closes after a large SELECT and reads nothing loses its session within the bound`, async () => {
    const proxy = proxies.get(mode)!;
    const { outcome, socket } = await wireSession({ port: proxy.port, user: Buffer.from('app'), password: 'app-secret' });
    assert.equal(outcome.kind, 'ok');
    socket.on('error', () => {});
    socket.end(query(LARGE));
    const started = Date.now();
    while (proxy.sessions > 0 && Date.now() - started < 10_000) await new Promise((r) => setTimeout(r, 50));
    assert.equal(proxy.sessions, 0, `still open after ${Date.now() - started} ms`);
    // The compute is done with it too: read to its end (pooled, the connection kept) or closed.
    while ((await running(LARGE)) > 0 && Date.now() - started < 10_000) await new Promise((r) => setTimeout(r, 50));
    assert.equal(await running(LARGE), 0);
    socket.destroy();
  });
}

test('a half-closed client waiting for a statement longer than the bound, nothing to read meanwhile, gets its reply', async () => {
  const writes = [query("SELECT 'late' AS v, SLEEP(2.5) AS s")];
  // Directly and through every mode at once: each its own session, the waits overlapping.
  const modes = Object.keys(MODES);
  const [direct, ...proxied] = await Promise.all([db.port, ...modes.map((mode) => proxies.get(mode)!.port)].map((port) => exchange(port, writes, { fin: true })));
  modes.forEach((mode, i) => assert.ok(proxied[i]!.equals(direct!), mode));
});
