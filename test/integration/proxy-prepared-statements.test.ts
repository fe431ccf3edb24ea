// Binary prepared statements through transaction pooling, with real drivers: statement
// ids are the proxy's, each statement is prepared on whichever compute connection a
// client borrows, and nothing pins (README, "Pool modes").
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';
import * as mariadb from 'mariadb';
import { startStack, type ProjectCredentials, type Stack } from '../helpers/stack.js';
import { pinsByReason, pooledInUse } from './pool-support.js';
import { COMPUTE_THREAD_EXPR } from '../helpers/compute-thread.js';

const run = promisify(execFile);
/** The compute connection's own thread id (compute-thread.ts). */
const THREAD = `SELECT ${COMPUTE_THREAD_EXPR} AS thread, ? AS v`;
const MAX_STATEMENTS = 4;

let stack: Stack;
let shop: ProjectCredentials;

before(async () => {
  stack = await startStack({
    cacheTtlMs: 50,
    verify: { ttlMs: 5_000, poolMode: 'transaction', poolMax: 2, poolAcquireTimeoutMs: 5_000, poolMaxStatements: MAX_STATEMENTS },
  });
  shop = await stack.createProject('shop');
  const setup = await connect();
  await setup.query('CREATE DATABASE IF NOT EXISTS app');
  await setup.query('CREATE TABLE IF NOT EXISTS app.items (id INT PRIMARY KEY, name VARCHAR(40), body LONGBLOB)');
  await setup.query("INSERT INTO app.items (id, name) SELECT seq, CONCAT('item-', seq) FROM app.seq_1_to_50");
  await setup.end();
});
after(async () => {
  await stack?.close();
});

function connect(extra: Partial<mysql.ConnectionOptions> = {}) {
  return mysql.createConnection({ host: '127.0.0.1', port: stack.proxy.port, user: `shop.${shop.user}`, password: shop.password, ...extra });
}

function connectMariadb(extra: Partial<mariadb.ConnectionConfig> = {}) {
  // A collation in the handshake: without it the connector also sends SET NAMES at connect (transaction pooling replays it, no pin).
  return mariadb.createConnection({
    host: '127.0.0.1',
    port: stack.proxy.port,
    user: `shop.${shop.user}`,
    password: shop.password,
    collation: 'UTF8MB4_GENERAL_CI',
    ...extra,
  });
}

const pins = () => pinsByReason(stack.proxy);
const inUse = () => pooledInUse(stack.proxy);

async function pinCount(): Promise<number> {
  return Object.values(await pins()).reduce((n, v) => n + v, 0);
}

async function settle(): Promise<void> {
  await new Promise((r) => setTimeout(r, 50));
}

async function exec<T = any>(c: mysql.Connection, sql: string, params: any[] = []): Promise<T[]> {
  const [rows] = await c.execute(sql, params);
  return rows as T[];
}

test('mysql2 execute() from many clients over two connections: right results, nothing pinned, nothing held', async () => {
  const pins = await pinCount();
  const clients = await Promise.all(Array.from({ length: 8 }, () => connect()));
  // Each client its own statements, prepared in a different order: the same proxy ids name different texts.
  const statements = ['SELECT name FROM app.items WHERE id = ?', 'SELECT ? * 3 AS n', 'SELECT COUNT(*) AS c FROM app.items WHERE id <= ?'];
  const threads = new Set<number>();
  await Promise.all(
    clients.map(async (c, i) => {
      for (let round = 0; round < 5; round++) {
        for (let k = 0; k < statements.length; k++) {
          const sql = statements[(k + i) % statements.length]!;
          const x = i * 5 + round + 1;
          const [row] = await exec(c, sql, [x]);
          if (sql.includes('name')) assert.equal(row.name, `item-${x}`);
          else if (sql.includes('* 3')) assert.equal(Number(row.n), x * 3);
          else assert.equal(Number(row.c), x);
        }
        threads.add(Number((await exec(c, THREAD, [i]))[0].thread));
      }
    }),
  );
  assert.ok(threads.size <= 2, `at most the pool's two compute connections (saw ${threads.size})`);
  await settle();
  assert.equal(await inUse(), 0, 'idle clients hold no connection');
  assert.equal(await pinCount(), pins, 'no pins');
  await Promise.all(clients.map((c) => c.end()));
});

test('a statement prepared on one connection runs on another: prepared there first, the compute reply swallowed', async () => {
  const a = await connect();
  const b = await connect();
  const blocker = await connect();
  const [first] = await exec(a, THREAD, ['one']);
  // The blocker holds that connection in a transaction, so a's next execute borrows the other.
  await blocker.query('BEGIN');
  const [held] = await exec(blocker, THREAD, ['x']);
  const [second] = await exec(a, THREAD, ['two']);
  assert.equal(second.v, 'two');
  assert.notEqual(second.thread, held.thread);
  assert.ok(first.thread === held.thread || first.thread !== second.thread);
  // b's statement with the same text (id 1 on b too) finds it cached.
  const [onB] = await exec(b, THREAD, ['b']);
  assert.equal(onB.v, 'b');
  await blocker.query('COMMIT');
  await Promise.all([a.end(), b.end(), blocker.end()]);
});

test('results match a direct connection, types and NULLs included', async () => {
  const direct = await directConnection();
  const proxied = await connect();
  const sql = 'SELECT ? AS i, ? AS d, ? AS s, ? AS n, ? AS b, CAST(? AS DATETIME) AS t, id, name FROM app.items WHERE id IN (?, ?) ORDER BY id';
  const params = [7, 2.5, 'text', null, Buffer.from([1, 2, 3]), '2024-02-03 04:05:06', 3, 4];
  for (let i = 0; i < 3; i++) assert.deepEqual(await exec(proxied, sql, params), await exec(direct, sql, params));
  await Promise.all([direct.end(), proxied.end()]);
});

test('COM_STMT_CLOSE: the closed id is unknown afterwards, as on the server', async () => {
  const pins = await pinCount();
  const outcomes = async (c: mysql.Connection) => {
    const seen: unknown[] = [];
    const stmt = await c.prepare('SELECT ? + 1 AS v');
    seen.push(((await stmt.execute([1] as any))[0] as any[])[0].v);
    stmt.close();
    seen.push(await stmt.execute([2] as any).then(() => 'ran', (e: any) => e.errno));
    const again = await c.prepare('SELECT ? + 2 AS v');
    seen.push(((await again.execute([4] as any))[0] as any[])[0].v);
    return seen;
  };
  const direct = await directConnection();
  const c = await connect();
  const expected = await outcomes(direct);
  assert.deepEqual(expected, [2, 1243, 6]);
  assert.deepEqual(await outcomes(c), expected);
  await settle();
  assert.equal(await inUse(), 0);
  assert.equal(await pinCount(), pins);
  await Promise.all([c.end(), direct.end()]);
});

test('more statements than a connection keeps: the least recently used are closed on the compute and prepared again', async () => {
  const c = await connect();
  const texts = Array.from({ length: 10 }, (_, i) => `SELECT ? + ${i} AS v`);
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < texts.length; i++) assert.equal((await exec(c, texts[i]!, [100]))[0].v, 100 + i);
  }
  const [row] = await c.query("SELECT VARIABLE_VALUE AS n FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'PREPARED_STMT_COUNT'");
  // Two pooled connections, at most MAX_STATEMENTS each (and this client's 10 ids cost the compute nothing).
  assert.ok(Number((row as any[])[0].n) <= 2 * MAX_STATEMENTS, `prepared on the compute: ${(row as any[])[0].n}`);
  await c.end();
});

test('a table changed under a statement prepared again elsewhere: the new columns, as on a direct connection', async () => {
  const setup = await connect();
  await setup.query('CREATE TABLE IF NOT EXISTS app.shape (a INT)');
  await setup.query('INSERT INTO app.shape VALUES (1)');
  const sql = 'SELECT * FROM app.shape WHERE a = ?';
  const direct = await directConnection();
  const a = await connect();
  const blocker = await connect();
  const thread = Number((await exec(a, THREAD, [0]))[0].thread);
  assert.deepEqual(await exec(direct, sql, [1]), [{ a: 1 }]);
  assert.deepEqual(await exec(a, sql, [1]), [{ a: 1 }]);
  await setup.query('ALTER TABLE app.shape ADD COLUMN b INT DEFAULT 2');
  // The blocker holds the connection a used, so a's statement is prepared again on the other.
  await blocker.query('BEGIN');
  assert.equal(Number((await exec(blocker, THREAD, [0]))[0].thread), thread);
  const expected = await exec(direct, sql, [1]);
  assert.deepEqual(expected, [{ a: 1, b: 2 }], 'the server prepares again by itself and sends the new columns');
  const [moved] = await exec(a, THREAD, [0]);
  assert.notEqual(Number(moved.thread), thread);
  assert.deepEqual(await exec(a, sql, [1]), expected);
  await blocker.query('COMMIT');
  await setup.query('DROP TABLE app.shape');
  await Promise.all([setup.end(), a.end(), blocker.end(), direct.end()]);
});

test('pinned sessions: statements go on to the pinned connection; a prepared SET @v pins; after COM_CHANGE_USER they pass untouched', async () => {
  const before = await pins();
  const a = await connect();
  const blocker = await connect();
  const thread = Number((await exec(a, THREAD, [0]))[0].thread);
  // a pins by its SET on the other connection (the blocker holds the one a used), then uses its statement there.
  await blocker.query('BEGIN');
  await blocker.query('SELECT 1');
  await a.query('SET @x = 5');
  const [pinned] = await exec(a, THREAD, [1]);
  assert.notEqual(Number(pinned.thread), thread, 'prepared again on the pinned connection');
  assert.equal(Number((await exec(a, 'SELECT @x + ? AS v', [1]))[0].v), 6);
  await blocker.query('COMMIT');
  await Promise.all([a.end(), blocker.end()]);
  // A prepared statement's text is judged when it runs. (Two pooled connections: one pinned session at a time.)
  const b = await connect();
  await exec(b, 'SET @v = ?', [3]);
  assert.equal(Number((await exec(b, 'SELECT @v + ? AS v', [1]))[0].v), 4);
  await b.end();
  // COM_CHANGE_USER pins and drops the connection's statements; later ones go untouched.
  const c = await connect();
  await c.changeUser({ user: shop.user, password: shop.password });
  assert.equal(Number((await exec(c, 'SELECT ? + 1 AS v', [1]))[0].v), 2);
  assert.equal(Number((await exec(c, 'SELECT ? + 1 AS v', [2]))[0].v), 3);
  await c.end();
  const after = await pins();
  // a by its user variable, b by its prepared SET when it ran, c by its COM_CHANGE_USER.
  assert.equal((after.user_variable ?? 0) - (before.user_variable ?? 0), 1);
  assert.equal((after.set_statement ?? 0) - (before.set_statement ?? 0), 1);
  assert.equal((after.command ?? 0) - (before.command ?? 0), 1);
});

test('npm mariadb connector: execute() (PREPARE and EXECUTE of id -1 pipelined) and batch() (COM_STMT_BULK_EXECUTE)', async () => {
  const pins = await pinCount();
  const conns = await Promise.all(Array.from({ length: 6 }, () => connectMariadb()));
  await conns[0]!.query('CREATE TABLE IF NOT EXISTS app.batch (id INT PRIMARY KEY, who INT, label VARCHAR(20))');
  await Promise.all(
    conns.map(async (c, i) => {
      for (let round = 0; round < 4; round++) {
        const x = i * 4 + round + 1;
        const rows: any[] = await c.execute('SELECT name FROM app.items WHERE id = ?', [x]);
        assert.equal(rows[0].name, `item-${x}`);
        const sum: any[] = await c.execute('SELECT ? + ? AS s', [x, 1]);
        assert.equal(Number(sum[0].s), x + 1);
      }
      const values = Array.from({ length: 20 }, (_, k) => [i * 100 + k, i, `row-${k}`]);
      const res = (await c.batch('INSERT INTO app.batch VALUES (?, ?, ?)', values)) as mariadb.UpsertResult;
      assert.equal(res.affectedRows, 20);
    }),
  );
  const counts = await conns[0]!.query('SELECT who, COUNT(*) AS n FROM app.batch GROUP BY who ORDER BY who');
  assert.deepEqual(counts.map((r: any) => Number(r.n)), [20, 20, 20, 20, 20, 20]);
  await settle();
  assert.equal(await inUse(), 0);
  assert.equal(await pinCount(), pins, 'no pins');
  await Promise.all(conns.map((c) => c.end()));
});

test('PHP mysqli: long data, a cursor fetched a row at a time, types sent once then put back on another connection', async () => {
  const pins = await pinCount();
  const php = `
    mysqli_report(MYSQLI_REPORT_ERROR | MYSQLI_REPORT_STRICT);
    $a = new mysqli('127.0.0.1', $argv[1], $argv[2], 'app', (int)$argv[3]);
    $blocker = new mysqli('127.0.0.1', $argv[1], $argv[2], 'app', (int)$argv[3]);
    // Long data: two chunks, then the execute.
    $up = $a->prepare('UPDATE items SET body = ? WHERE id = ?');
    $null = null; $id = 5;
    $up->bind_param('bi', $null, $id);
    $up->send_long_data(0, str_repeat('a', 100000));
    $up->send_long_data(0, str_repeat('b', 50000));
    $up->execute();
    $r = $a->query('SELECT LENGTH(body) AS n, RIGHT(body, 3) AS t FROM items WHERE id = 5')->fetch_assoc();
    echo "long ", $r['n'], " ", $r['t'], "\\n";
    // A read-only cursor, one row per fetch.
    $sel = $a->prepare('SELECT id FROM items WHERE id <= ? ORDER BY id');
    $sel->attr_set(MYSQLI_STMT_ATTR_CURSOR_TYPE, MYSQLI_CURSOR_TYPE_READ_ONLY);
    $sel->attr_set(MYSQLI_STMT_ATTR_PREFETCH_ROWS, 1);
    $n = 4; $sel->bind_param('i', $n);
    $sel->execute();
    $sel->bind_result($got);
    $ids = [];
    while ($sel->fetch()) $ids[] = $got;
    echo "cursor ", implode(',', $ids), "\\n";
    $sel->close();
    // Types go with the first execute only; the blocker then holds that connection.
    $q = $a->prepare("SELECT ${COMPUTE_THREAD_EXPR}, ? + 1");
    $v = 1; $q->bind_param('i', $v);
    $q->execute(); $q->bind_result($t1, $r1); $q->fetch(); $q->free_result();
    $blocker->begin_transaction();
    $blocker->query('SELECT 1');
    $v = 41; $q->execute(); $q->bind_result($t2, $r2); $q->fetch(); $q->free_result();
    $blocker->commit();
    echo "types ", $r1, " ", $r2, " ", ($t1 == $t2 ? 'same' : 'other'), "\\n";
  `;
  const { stdout } = await run('php', ['-r', php, `shop.${shop.user}`, shop.password, String(stack.proxy.port)]);
  const lines = stdout.trim().split('\n');
  assert.equal(lines[0], 'long 150000 bbb');
  assert.equal(lines[1], 'cursor 1,2,3,4');
  assert.equal(lines[2], 'types 2 42 other', 'the second execute ran on the other connection, without types of its own');
  await settle();
  assert.equal(await inUse(), 0);
  assert.equal(await pinCount(), pins, 'no pins');
});

test('statements survive the compute being stopped and woken between executes (prepared again)', async () => {
  const pins = await pinCount();
  const c = await connect();
  const m = await connectMariadb();
  assert.equal((await exec(c, 'SELECT name FROM app.items WHERE id = ?', [9]))[0].name, 'item-9');
  assert.equal((await m.execute('SELECT name FROM app.items WHERE id = ?', [8]))[0].name, 'item-8');
  await settle();
  await stack.suspend(shop.computeId);
  await stack.waitForState(shop.computeId, 'stopped', 10_000);
  assert.equal((await exec(c, 'SELECT name FROM app.items WHERE id = ?', [10]))[0].name, 'item-10');
  assert.equal((await m.execute('SELECT name FROM app.items WHERE id = ?', [11]))[0].name, 'item-11');
  assert.equal(await pinCount(), pins);
  await Promise.all([c.end(), m.end()]);
});

/** A connection straight to the compute, as the project's owner. */
async function directConnection(): Promise<mysql.Connection> {
  const compute = await stack.compute(shop.computeId);
  return mysql.createConnection({ host: compute.host, port: Number(compute.port), user: shop.user, password: shop.password });
}

test('one text in two databases: each client runs its own database\'s statement; one prepared before a USE never runs in the new database', async () => {
  const setup = await connect();
  for (const [db, v] of [['ps_a', 'from a'], ['ps_b', 'from b']] as const) {
    await setup.query(`CREATE DATABASE IF NOT EXISTS ${db}`);
    await setup.query(`CREATE OR REPLACE TABLE ${db}.t (v VARCHAR(10))`);
    await setup.query(`INSERT INTO ${db}.t VALUES (?)`, [v]);
  }
  await setup.end();
  const before = await pinCount();
  const text = 'SELECT v, ? AS n FROM t';
  const a = await connect({ database: 'ps_a' });
  // Logged in to one database (pooled together), one moved by USE (replayed, not pinned).
  const b = await connect({ database: 'ps_a' });
  await b.query('USE ps_b');
  try {
    // Interleaved on the pool's two connections: each finds the text prepared by the other.
    for (let round = 0; round < 6; round++) {
      for (const [c, want] of [[a, 'from a'], [b, 'from b']] as const) {
        const rows = await exec(c, text, [round]);
        assert.deepEqual(rows, [{ v: want, n: round }]);
      }
    }
    assert.equal(await pinCount(), before, 'replayed databases pin nothing');

    // Directly, a statement keeps the database it was prepared in.
    const c = await stack.compute(shop.computeId);
    const direct = await mysql.createConnection({ host: c.host, port: c.port, user: shop.user, password: shop.password, database: 'ps_a' });
    const proxied = await connect({ database: 'ps_a' });
    try {
      const [d, p] = await Promise.all([direct.prepare(text), proxied.prepare(text)]);
      await direct.query('USE ps_b');
      await proxied.query('USE ps_b');
      assert.deepEqual(await d.execute([1]).then(([r]) => r), [{ v: 'from a', n: 1 }]);
      // Through the proxy: the same, or (prepared again on a connection it was not on) 1615, never ps_b's row.
      for (let i = 0; i < 4; i++) {
        const got = await p.execute([1]).then(([r]) => r, (e: { errno?: number }) => e.errno);
        if (typeof got === 'number') assert.equal(got, 1615);
        else assert.deepEqual(got, [{ v: 'from a', n: 1 }]);
        await exec(b, text, [i]);
      }
    } finally {
      await direct.end();
      await proxied.end();
    }
  } finally {
    await a.end();
    await b.end();
  }
});
