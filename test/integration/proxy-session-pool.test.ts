// Session pool mode end to end: clients borrow logged-in compute connections,
// which go back reset; nothing one client set is seen by the next.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import { startStack, type ProjectCredentials, type Stack } from '../helpers/stack.js';
import { mariadbCli } from '../helpers/clients.js';
import { COMPUTE_THREAD, COMPUTE_THREAD_EXPR } from '../helpers/compute-thread.js';
import { waitFor } from './pool-support.js';


let stack: Stack;
let shop: ProjectCredentials;

before(async () => {
  stack = await startStack({ verify: { ttlMs: 5_000, poolMode: 'session' } });
  shop = await stack.createProject('shop');
});
after(async () => {
  await stack?.close();
});

function connect() {
  return mysql.createConnection({ host: '127.0.0.1', port: stack.proxy.port, user: `shop.${shop.user}`, password: shop.password });
}

async function one<T = any>(conn: mysql.Connection, sql: string): Promise<T> {
  const [rows] = await conn.query(sql);
  return (rows as any[])[0];
}

test('a client that quits gives its compute connection back, reset, to the next client', async () => {
  const a = await connect();
  const threadA = (await one(a, COMPUTE_THREAD)).id;
  await a.query("SET @secret = 'from-a', SESSION sql_mode = 'ANSI_QUOTES'");
  await a.query('CREATE DATABASE IF NOT EXISTS scratchdb');
  await a.query('CREATE TEMPORARY TABLE scratchdb.scratch (x INT)');
  await a.end();
  await new Promise((r) => setTimeout(r, 100));

  const b = await connect();
  const row = await one(b, `SELECT ${COMPUTE_THREAD_EXPR} AS id, @secret AS secret, @@SESSION.sql_mode AS mode`);
  assert.equal(row.id, threadA, 'same compute connection reused');
  assert.equal(row.secret, null);
  assert.notEqual(row.mode, 'ANSI_QUOTES');
  await assert.rejects(b.query('SELECT * FROM scratchdb.scratch'), (err: any) => err.errno === 1146);
  await b.end();
});

test('a client that logs in and quits without a command gives its connection back with no reset; one that sent a command gets one', async () => {
  // Every reset runs SHOW PROFILES (backend/health.ts): the compute counts them.
  const reader = await connect();
  const resets = async () => Number((await one(reader, "SHOW GLOBAL STATUS LIKE 'Com_show_profiles'")).Value);
  const before = await resets();
  for (let i = 0; i < 3; i++) await (await connect()).end();
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(await resets(), before, 'no reset after a login and a quit');

  const worker = await connect();
  await worker.query('SELECT 1');
  await worker.end();
  await waitFor('the reset after a session with a command', async () => (await resets()) === before + 1);
  await reader.end();
});

test('init_connect runs once for each login, as directly, whether or not the client sent a command', async () => {
  const compute = await stack.compute(shop.computeId);
  const admin = await mysql.createConnection({ host: compute.host, port: compute.port, user: shop.user, password: shop.password });
  // The project's owner has SUPER and skips init_connect: an account without it.
  await admin.query("CREATE USER IF NOT EXISTS 'plain'@'%' IDENTIFIED BY 'plain-pw'");
  await admin.query("SET GLOBAL init_connect = 'SET @logins = IFNULL(@logins, 0) + 1'");
  const plain = () => mysql.createConnection({ host: '127.0.0.1', port: stack.proxy.port, user: 'shop.plain', password: 'plain-pw' });
  try {
    for (let i = 0; i < 3; i++) await (await plain()).end();
    const c = await plain();
    assert.equal(Number((await one(c, 'SELECT @logins AS n')).n), 1);
    await c.end();
  } finally {
    await admin.query("SET GLOBAL init_connect = ''");
    await admin.end();
  }
});

test('a client that vanishes inside a transaction never hands its connection on', async () => {
  const setup = await connect();
  await setup.query('CREATE DATABASE IF NOT EXISTS t');
  await setup.query('CREATE TABLE IF NOT EXISTS t.items (id INT PRIMARY KEY)');
  await setup.end();
  await new Promise((r) => setTimeout(r, 100));

  const a = await connect();
  const threadA = (await one(a, COMPUTE_THREAD)).id;
  await a.query('BEGIN');
  await a.query('INSERT INTO t.items VALUES (1)');
  (a as any).connection.stream.resetAndDestroy(); // no COM_QUIT: gone, its connection reset
  await new Promise((r) => setTimeout(r, 300));

  const b = await connect();
  const row = await one(b, `SELECT ${COMPUTE_THREAD_EXPR} AS id, (SELECT COUNT(*) FROM t.items) AS n, @@in_transaction AS tx`);
  assert.notEqual(row.id, threadA, 'a dirty connection is not reused');
  assert.equal(Number(row.n), 0, 'the vanished client’s insert was rolled back');
  assert.equal(Number(row.tx), 0);
  await b.end();
});

test('COM_CHANGE_USER from a pooled client is judged by the compute', async () => {
  const a = await connect();
  await a.query("CREATE USER IF NOT EXISTS 'other'@'%' IDENTIFIED BY 'other-pass'");
  await a.changeUser({ user: 'other', password: 'other-pass' });
  assert.match((await one(a, 'SELECT CURRENT_USER() AS u')).u, /^other@/);
  await assert.rejects(a.changeUser({ user: 'other', password: 'wrong' }));
  a.destroy();
});

test('the mariadb CLI works in session mode and pool sizes are exported', async () => {
  const res = await mariadbCli(stack.proxy.port, `shop.${shop.user}`, shop.password, 'SELECT 11');
  assert.equal(res.code, 0, res.stderr);
  assert.equal(res.stdout.trim(), '11');
  await new Promise((r) => setTimeout(r, 100));
  stack.proxy.refreshMetrics();
  const gauge = await stack.proxy.metrics.poolConnections.get();
  const idle = gauge.values.find((v) => v.labels.state === 'idle')?.value ?? 0;
  assert.ok(idle >= 1, `idle pooled connections: ${idle}`);
});

test('client flags that change the session survive a reset: mariadb -i twice (IGNORE_SPACE), and -i sessions keep interactive_timeout', async () => {
  const user = `shop.${shop.user}`;
  const sql = 'SELECT COUNT (*) FROM mysql.db; SELECT @@wait_timeout = @@interactive_timeout';
  for (let i = 0; i < 3; i++) {
    const r = await mariadbCli(stack.proxy.port, user, shop.password, sql, ['-i']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^\d+\n1\n$/);
  }
});

test("the pool's own statements never show in a client's session (SHOW PROFILES)", async () => {
  for (let i = 0; i < 2; i++) {
    const c = await connect();
    await c.query('SET profiling = 1');
    await c.query('SELECT 1');
    const [rows] = await c.query('SHOW PROFILES');
    assert.deepEqual((rows as any[]).map((r) => String(r.Query)), ['SELECT 1']);
    await c.end();
  }
});
