// The proxy alone in front of one always-on MariaDB: no control plane, no wake.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import { startStandaloneMariadb, type StandaloneMariadb } from '../helpers/standalone-mariadb.js';
import { testLogger } from '../helpers/logger.js';
import { mariadbCli } from '../helpers/clients.js';
import { createStaticResolver } from '../../control-client/static-resolver.js';
import { startProxy, type ProxyServer } from '../../proxy/server.js';

let db: StandaloneMariadb;
let plain: ProxyServer;
let pinned: ProxyServer;

before(async () => {
  db = await startStandaloneMariadb();
  const resolver = createStaticResolver({ host: db.host, port: db.port });
  const logger = testLogger();
  plain = await startProxy({ host: '127.0.0.1', port: 0, resolver, routing: { projectOptional: true }, logger });
  pinned = await startProxy({ host: '127.0.0.1', port: 0, resolver, routing: { fixedProject: 'side' }, logger });
});

after(async () => {
  await plain?.close();
  await pinned?.close();
  await db?.stop();
});

test('user names pass untouched to a static backend', async () => {
  const conn = await mysql.createConnection({ host: '127.0.0.1', port: plain.port, user: db.user, password: db.password });
  const [rows] = await conn.query('SELECT CURRENT_USER() AS u');
  assert.match((rows as any[])[0].u, /^app@/);
  await conn.end();
});

test('a fixed project (sidecar mode) needs no project in the user name', async () => {
  const res = await mariadbCli(pinned.port, db.user, db.password, 'SELECT 40 + 2');
  assert.equal(res.code, 0, res.stderr);
  assert.equal(res.stdout.trim(), '42');
});

test('wrong password against a static backend is 1045', async () => {
  await assert.rejects(
    mysql.createConnection({ host: '127.0.0.1', port: plain.port, user: db.user, password: 'nope' }),
    (err: any) => err.errno === 1045,
  );
});

test('many clients in parallel each get their own session', async () => {
  const conns = await Promise.all(
    Array.from({ length: 20 }, () =>
      mysql.createConnection({ host: '127.0.0.1', port: plain.port, user: db.user, password: db.password }),
    ),
  );
  const ids = await Promise.all(conns.map(async (c) => ((await c.query('SELECT CONNECTION_ID() AS id'))[0] as any[])[0].id));
  assert.equal(new Set(ids).size, 20);
  await Promise.all(conns.map((c) => c.end()));
});
