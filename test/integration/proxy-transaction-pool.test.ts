// Transaction pool mode end to end: clients hold a compute connection only for a
// statement or a transaction, so idle clients hold none and many clients share a few;
// state that must stay pins the connection; a sleeping compute wakes for the next
// statement of a client that stayed connected, and pings do not wake it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import mysqlCallbacks from 'mysql2';
import type { Socket } from 'node:net';
import { startStack, type ProjectCredentials, type Stack } from '../helpers/stack.js';
import { mariadbCli, pymysql } from '../helpers/clients.js';
import { pinsByReason, pooledCount, pooledInUse, waitFor } from './pool-support.js';
import { COMPUTE_THREAD, COMPUTE_THREAD_EXPR } from '../helpers/compute-thread.js';


let stack: Stack;
let shop: ProjectCredentials;

before(async () => {
  // A short address cache, so a compute suspended by hand is woken on the next statement.
  stack = await startStack({ cacheTtlMs: 50, verify: { ttlMs: 5_000, poolMode: 'transaction', poolMax: 3, poolAcquireTimeoutMs: 1_500 } });
  shop = await stack.createProject('shop');
  const setup = await connect();
  await setup.query('CREATE DATABASE IF NOT EXISTS app');
  await setup.query('CREATE TABLE IF NOT EXISTS app.items (id INT PRIMARY KEY, name VARCHAR(20))');
  await setup.end();
});
after(async () => {
  await stack?.close();
});

function connect(extra: Partial<mysql.ConnectionOptions> = {}) {
  return mysql.createConnection({
    host: '127.0.0.1',
    port: stack.proxy.port,
    user: `shop.${shop.user}`,
    password: shop.password,
    ...extra,
  });
}

async function one<T = any>(conn: mysql.Connection, sql: string, params?: unknown[]): Promise<T> {
  const [rows] = await conn.query(sql, params);
  return (rows as any[])[0];
}

const inUse = () => pooledInUse(stack.proxy);
const pins = () => pinsByReason(stack.proxy);

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(what)), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

async function settle(): Promise<void> {
  await new Promise((r) => setTimeout(r, 50));
}

test('idle clients hold no compute connection: six clients take turns on one', async () => {
  const clients = await Promise.all(Array.from({ length: 6 }, () => connect()));
  await settle();
  assert.equal(await inUse(), 0, 'connected but idle clients hold nothing');
  const threads = new Set<number>();
  for (let round = 0; round < 3; round++) {
    for (const c of clients) threads.add(Number((await one(c, COMPUTE_THREAD)).id));
  }
  assert.equal(threads.size, 1, `one compute connection served every statement (saw ${[...threads].join(', ')})`);
  // At once: never more than the pool's 3 per compute, and all served.
  const rows = await Promise.all(clients.map((c) => one(c, `SELECT SLEEP(0.05) AS s, ${COMPUTE_THREAD_EXPR} AS id`)));
  assert.ok(new Set(rows.map((r) => r.id)).size <= 3);
  await settle();
  assert.equal(await inUse(), 0);
  await Promise.all(clients.map((c) => c.end()));
});

test('a transaction keeps its connection until COMMIT, and others see nothing before', async () => {
  const a = await connect();
  const b = await connect();
  await a.query('BEGIN');
  const first = (await one(a, COMPUTE_THREAD)).id;
  await a.query("INSERT INTO app.items VALUES (1, 'one')");
  assert.equal((await one(a, COMPUTE_THREAD)).id, first, 'same connection inside the transaction');
  assert.equal(await inUse(), 1);
  assert.equal(Number((await one(b, 'SELECT COUNT(*) AS n FROM app.items')).n), 0, 'uncommitted row invisible');
  assert.notEqual((await one(b, COMPUTE_THREAD)).id, first);
  await a.query('COMMIT');
  await settle();
  assert.equal(await inUse(), 0, 'released after COMMIT');
  assert.equal(Number((await one(b, 'SELECT COUNT(*) AS n FROM app.items')).n), 1);
  // An error inside a transaction leaves it open: still held until ROLLBACK.
  await a.query('START TRANSACTION');
  await assert.rejects(a.query('SELECT * FROM app.nope'), (e: any) => e.errno === 1146);
  assert.equal(await inUse(), 1);
  await a.query('ROLLBACK');
  await Promise.all([a.end(), b.end()]);
});

test('state pins the connection to its client and never reaches another client', async () => {
  const before = await pins();
  const a = await connect();
  await a.query("SET @secret = 'from-a'");
  const pinnedThread = (await one(a, COMPUTE_THREAD)).id;
  const b = await connect();
  for (let i = 0; i < 3; i++) {
    assert.equal((await one(a, 'SELECT @secret AS s')).s, 'from-a');
    const row = await one(b, `SELECT @secret AS s, ${COMPUTE_THREAD_EXPR} AS id`);
    assert.equal(row.s, null);
    assert.notEqual(row.id, pinnedThread);
  }
  const c = await connect();
  await c.query('CREATE TEMPORARY TABLE app.scratch (x INT)');
  await c.query('INSERT INTO app.scratch VALUES (7)');
  assert.equal((await one(c, 'SELECT x FROM app.scratch')).x, 7);
  await c.end();
  // Prepared statements (mysql2 execute) do not pin (proxy-prepared-statements.test.ts).
  const d = await connect();
  const [rows] = await d.execute('SELECT ? + 1 AS v', [41]);
  assert.equal((rows as any[])[0].v, 42);
  const [again] = await d.execute('SELECT ? + 1 AS v', [1]);
  assert.equal((again as any[])[0].v, 2);
  await d.end();
  const after = await pins();
  // a by its user variable; b too, by reading one (reads and writes look alike in SQL text).
  assert.equal((after.set_statement ?? 0) - (before.set_statement ?? 0), 0);
  assert.equal((after.user_variable ?? 0) - (before.user_variable ?? 0), 2);
  assert.equal((after.temporary_table ?? 0) - (before.temporary_table ?? 0), 1);
  assert.equal((after.command ?? 0) - (before.command ?? 0), 0);
  // The pinned connection goes back reset when its client quits.
  await a.end();
  await settle();
  const e = await connect();
  assert.equal((await one(e, 'SELECT @secret AS s')).s, null);
  await e.end();
  await b.end();
});

test('SET autocommit=1 does not pin; autocommit=0 holds the connection until it is back on', async () => {
  const before = await pins();
  const a = await connect();
  await a.query('SET autocommit = 1');
  await settle();
  assert.equal(await inUse(), 0);
  await a.query('SET autocommit = 0');
  await a.query("INSERT INTO app.items VALUES (2, 'two')");
  assert.equal(await inUse(), 1, 'held: with autocommit off every statement is in a transaction');
  await a.query('ROLLBACK');
  await a.query('SET autocommit = 1');
  await settle();
  assert.equal(await inUse(), 0);
  assert.deepEqual(await pins(), before);
  await a.end();
});

test('multi-statement replies, procedures with several results and large results are relayed whole', async () => {
  const a = await connect({ multipleStatements: true });
  const released = async (what: string) => {
    await settle();
    assert.equal(await inUse(), 0, `the reply to ${what} was found to end`);
  };
  const [multi] = await a.query('SELECT 1 AS a; SELECT 2 AS b; DO 0');
  assert.equal((multi as any[]).length, 3);
  await released('three statements');
  const [big] = await a.query("SELECT seq, REPEAT('x', 200) AS pad FROM app.seq_1_to_20000");
  assert.equal((big as any[]).length, 20_000);
  await released('20,000 rows');
  const blob = (await one(a, "SELECT REPEAT('y', 3000000) AS b")).b;
  assert.equal(blob.length, 3_000_000);
  await released('a 3 MB value');
  await assert.rejects(a.query('SELEC 1'), (e: any) => e.errno === 1064);
  await released('an error');
  assert.equal((await one(a, 'SELECT 5 AS v')).v, 5);
  // A procedure may leave state behind: CALL pins, and its several results arrive whole.
  await a.query('CREATE PROCEDURE IF NOT EXISTS app.two_results() BEGIN SELECT 1 AS x; SELECT 2 AS y; END');
  await released('CREATE PROCEDURE');
  const before = (await pins()).stored_procedure ?? 0;
  const [proc] = await a.query('CALL app.two_results()');
  assert.deepEqual([(proc as any[])[0][0].x, (proc as any[])[1][0].y], [1, 2]);
  assert.equal((await pins()).stored_procedure, before + 1);
  assert.equal((await one(a, 'SELECT 6 AS v')).v, 6);
  await a.end();
  await released('the pinned session quit');
});

test('a client too slow for its result: the compute connection waits for it, then serves the next client waiting for one', async () => {
  // Two transactions hold two of the three connections; the slow client's result fills
  // the proxy's buffers towards it, so reading its connection stops until it reads again.
  const holders = await Promise.all([connect(), connect()]);
  const waiter = await connect(); // logged in (which borrows a connection) while there are some
  for (const h of holders) {
    await h.query('BEGIN');
    await h.query('SELECT 1');
  }
  const slow = await connect();
  const stream = (slow as any).connection.stream;
  const big = slow.query("SELECT seq, REPEAT('x', 1000) AS pad FROM app.seq_1_to_20000");
  stream.pause();
  await new Promise((r) => setTimeout(r, 300));
  // Queued for a connection: the slow client's, handed over as soon as its reply is out.
  const next = one(waiter, 'SELECT 7 AS v');
  await new Promise((r) => setTimeout(r, 100));
  stream.resume();
  const [rows] = await within(big, 10_000, 'the slow client never got the rest of its result');
  assert.equal((rows as any[]).length, 20_000);
  assert.equal((await within(next, 1_400, 'the waiting client was never answered')).v, 7);
  assert.equal((await one(waiter, 'SELECT 8 AS v')).v, 8);
  for (const h of holders) {
    await h.query('COMMIT');
    await h.end();
  }
  await slow.end();
  await waiter.end();
  await settle();
  assert.equal(await inUse(), 0);
});

test('a statement over 64 MiB gets 1153 and the connection closes; one below it runs', async () => {
  const a = await connect();
  const big = 'x'.repeat(20 * 1024 * 1024);
  const [rows] = await a.query('SELECT LENGTH(?) AS n', [big]);
  assert.equal(Number((rows as any[])[0].n), big.length, 'a 20 MiB statement spans continuation packets');
  await assert.rejects(a.query('SELECT LENGTH(?) AS n', ['y'.repeat(65 * 1024 * 1024)]), (e: any) => e.errno === 1153);
  a.destroy();
});

test('a statement that finds no free connection gets 1040, and the client goes on', async () => {
  const c = await connect(); // idle: holds nothing
  const holders = await Promise.all([connect(), connect(), connect()]);
  for (const h of holders) await h.query('SET @hold = 1'); // three pinned: the pool's 3
  await assert.rejects(c.query('SELECT 1'), (e: any) => e.errno === 1040);
  await assert.rejects(connect(), (e: any) => e.errno === 1040, 'a login needs a connection too');
  await holders[0]!.end();
  await settle();
  assert.equal((await one(c, 'SELECT 2 AS v')).v, 2);
  await Promise.all([c, ...holders.slice(1)].map((h) => h.end()));
});

test('a client that leaves while its statement waits for a connection leaves the pool as it was', async () => {
  const leaver = await connect(); // idle: holds nothing
  const holders = await Promise.all([connect(), connect(), connect()]);
  const held = new Set<number>();
  for (const h of holders) {
    await h.query('SET @hold = 1'); // pinned: the pool's 3 are taken
    held.add(Number((await one(h, COMPUTE_THREAD)).id));
  }
  leaver.query('SELECT 1').catch(() => {}); // waits for a free connection...
  await settle();
  leaver.destroy(); // ...and leaves before one frees
  await settle();
  // The compute's connections were not dropped for it: they come back to the pool and serve the next client.
  await Promise.all(holders.map((h) => h.end()));
  await settle();
  const next = await connect();
  assert.ok(held.has(Number((await one(next, COMPUTE_THREAD)).id)), 'a pooled connection was reused');
  await next.end();
});

test('a client that leaves while its login waits for a connection stops waiting at once, and the pool is as it was', async () => {
  const holders = await Promise.all([connect(), connect(), connect()]);
  try {
    for (const h of holders) await h.query('SET @hold = 1'); // pinned: the pool's 3 are taken
    const leaver = mysqlCallbacks.createConnection({ host: '127.0.0.1', port: stack.proxy.port, user: `shop.${shop.user}`, password: shop.password });
    leaver.on('error', () => {});
    await waitFor('the login to wait for a connection', async () => (await pooledCount(stack.proxy, 'waiting')) === 1);
    // A reset, not a FIN: a half-closed client may still read its answer (README: "Half-closed clients get their replies").
    (leaver as unknown as { stream: Socket }).stream.resetAndDestroy();
    // Well within the pool's 1.5 s acquire bound: the session's own abort ended the wait.
    await waitFor('the waiter to leave', async () => (await pooledCount(stack.proxy, 'waiting')) === 0, 500);
  } finally {
    await Promise.all(holders.map((h) => h.end()));
  }
  await settle();
  const next = await connect();
  assert.equal((await one(next, 'SELECT 1 AS v')).v, 1);
  await next.end();
});

test('a sleeping compute wakes for the next statement; pings and resets are answered without waking it', async () => {
  const a = await connect();
  assert.equal((await one(a, 'SELECT 1 AS v')).v, 1);
  for (const tier of ['stop', 'freeze'] as const) {
    await settle();
    await stack.suspend(shop.computeId, tier);
    await stack.waitForState(shop.computeId, tier === 'stop' ? 'stopped' : 'frozen', 10_000);
    await a.ping();
    await a.reset();
    assert.equal((await stack.compute(shop.computeId)).state, tier === 'stop' ? 'stopped' : 'frozen', 'ping did not wake it');
    assert.equal(Number((await one(a, 'SELECT COUNT(*) AS n FROM app.items')).n), 1, `woken from ${tier}`);
    assert.equal((await stack.compute(shop.computeId)).state, 'active');
  }
  await a.end();
});

test('the mariadb CLI and PyMySQL work in transaction mode', async () => {
  const cli = await mariadbCli(stack.proxy.port, `shop.${shop.user}`, shop.password, "SET @v = 'cli'; SELECT @v; SELECT COUNT(*) FROM app.items");
  assert.equal(cli.code, 0, cli.stderr);
  assert.deepEqual(cli.stdout.trim().split('\n'), ['cli', '1']);
  const py = await pymysql(stack.proxy.port, `shop.${shop.user}`, shop.password, 'SELECT name FROM app.items ORDER BY id');
  assert.equal(py.code, 0, py.stderr);
  assert.equal(py.stdout.trim(), 'one');
  await settle();
  assert.equal(await inUse(), 0);
});

test('the idle scheduler puts a compute to sleep while its transaction-pooled clients stay connected', async () => {
  const s = await startStack({
    cacheTtlMs: 50,
    verify: { ttlMs: 5_000, poolMode: 'transaction' },
    activity: { reportIntervalMs: 100, idleTimeoutMs: 800, checkIntervalMs: 100 },
  });
  const clients: mysql.Connection[] = [];
  try {
    const blog = await s.createProject('blog');
    for (let i = 0; i < 3; i++) {
      const c = await mysql.createConnection({ host: '127.0.0.1', port: s.proxy.port, user: `blog.${blog.user}`, password: blog.password });
      clients.push(c);
      assert.equal((await one(c, 'SELECT 1 AS v')).v, 1);
    }
    await s.waitForState(blog.computeId, 'stopped', 15_000);
    for (const c of clients) assert.equal((await one(c, 'SELECT 2 AS v')).v, 2, 'the next statement woke it');
    assert.equal((await s.compute(blog.computeId)).state, 'active');
  } finally {
    await Promise.all(clients.map((c) => c.end().catch(() => {})));
    await s.close();
  }
});
