// What a statement leaves for the next one of its session (LAST_INSERT_ID(), ROW_COUNT(),
// FOUND_ROWS()) in transaction pooling, where two clients of one user take turns on one
// compute connection. Every script runs twice, through the proxy and on two direct
// connections to the compute, into tables of its own, and the answers are compared: the
// direct connections are the reference. ROW_COUNT() and FOUND_ROWS() after a statement
// that ran on another borrow are refused (relay/previous-statement.ts), never another
// client's.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Readable } from 'node:stream';
import mysql from 'mysql2/promise';
import { startStack, type ProjectCredentials, type Stack } from '../helpers/stack.js';

const run = promisify(execFile);

let stack: Stack;
let shop: ProjectCredentials;
let direct: { host: string; port: number };
let tables = 0;

before(async () => {
  // One connection for everyone: the clients take turns on it.
  stack = await startStack({ verify: { ttlMs: 5_000, poolMode: 'transaction', poolMax: 1, poolAcquireTimeoutMs: 5_000 } });
  shop = await stack.createProject('shop');
  const c = await stack.compute(shop.computeId);
  direct = { host: c.host, port: c.port };
  const setup = await connectDirect({ database: undefined });
  await setup.query('CREATE DATABASE IF NOT EXISTS app');
  await setup.end();
});
after(async () => {
  await stack?.close();
});

function connectProxy(extra: Partial<mysql.ConnectionOptions> = {}) {
  return mysql.createConnection({ host: '127.0.0.1', port: stack.proxy.port, user: `shop.${shop.user}`, password: shop.password, database: 'app', ...extra });
}

function connectDirect(extra: Partial<mysql.ConnectionOptions> = {}) {
  return mysql.createConnection({ ...direct, user: shop.user, password: shop.password, database: 'app', ...extra });
}

/** A step: which client runs what; `$p` and `$c` name this run's parent and child tables. */
type Step = [client: 0 | 1, sql: string];

/** Fresh tables for one run: a parent with AUTO_INCREMENT and a unique column, a child that names its parent. */
async function makeTables(): Promise<{ p: string; c: string }> {
  const n = ++tables;
  const p = `p${n}`;
  const c = `c${n}`;
  const setup = await connectDirect();
  await setup.query(`CREATE TABLE ${p} (id INT AUTO_INCREMENT PRIMARY KEY, who VARCHAR(10), u INT UNIQUE, v INT)`);
  await setup.query(`CREATE TABLE ${c} (parent_id INT, who VARCHAR(10))`);
  await setup.end();
  return { p, c };
}

/** Runs `steps` on two connections; what each step answered (rows, the OK's numbers, or the error). */
async function runScript(
  connect: typeof connectProxy,
  steps: Step[],
  via: 'query' | 'execute' = 'query',
): Promise<{ answers: unknown[]; children: unknown[] }> {
  const { p, c } = await makeTables();
  const conns = [await connect({ multipleStatements: true }), await connect({ multipleStatements: true })];
  const answers: unknown[] = [];
  for (const [who, sql] of steps) {
    const text = sql.replace(/\$p/g, p).replace(/\$c/g, c);
    try {
      const conn = conns[who]!;
      // LOAD DATA LOCAL sends two rows for `who`.
      const infileStreamFactory = () => Readable.from([Buffer.from('l\nl\n')]);
      const [result] = await (via === 'execute' ? conn.execute(text) : /^LOAD/.test(text) ? conn.query({ sql: text, infileStreamFactory }) : conn.query(text));
      answers.push(Array.isArray(result) ? result : { affectedRows: (result as any).affectedRows, insertId: (result as any).insertId });
    } catch (err) {
      answers.push({ error: (err as { errno?: number }).errno });
    }
  }
  for (const conn of conns) await conn.end();
  const check = await connectDirect();
  // Each child names its parent: the parent must be its own client's.
  const [children] = await check.query(`SELECT ${c}.who AS child, ${p}.who AS parent FROM ${c} LEFT JOIN ${p} ON ${p}.id = ${c}.parent_id ORDER BY ${c}.who`);
  await check.end();
  return { answers, children: children as unknown[] };
}

async function sideBySide(steps: Step[], via: 'query' | 'execute' = 'query'): Promise<{ answers: unknown[]; children: unknown[] }> {
  const proxied = await runScript(connectProxy, steps, via);
  const reference = await runScript(connectDirect, steps, via);
  assert.deepEqual(proxied.answers, reference.answers);
  assert.deepEqual(proxied.children, reference.children);
  return proxied;
}

test('two clients alternating inserts: each reads its own LAST_INSERT_ID() and links its children to its own parents (mysql2)', async () => {
  const { answers, children } = await sideBySide([
    [0, "INSERT INTO $p (who) VALUES ('a')"],
    [1, "INSERT INTO $p (who) VALUES ('b')"],
    [0, 'SELECT LAST_INSERT_ID() AS id'],
    [0, "INSERT INTO $c VALUES (LAST_INSERT_ID(), 'a')"],
    [1, 'SELECT LAST_INSERT_ID() AS id, @@last_insert_id AS v, @@identity AS i'],
    [1, "INSERT INTO $c VALUES (LAST_INSERT_ID(), 'b')"],
    [1, "INSERT INTO $p (who) VALUES ('b2'), ('b3')"],
    [0, "INSERT INTO $c VALUES (LAST_INSERT_ID(), 'a2')"],
    [1, "INSERT INTO $c VALUES (LAST_INSERT_ID(), 'b2')"],
  ]);
  assert.deepEqual(answers[2], [{ id: 1 }]);
  assert.deepEqual(answers[4], [{ id: 2, v: 2, i: 2 }]);
  assert.deepEqual(children, [
    { child: 'a', parent: 'a' },
    { child: 'a2', parent: 'a' },
    { child: 'b', parent: 'b' },
    { child: 'b2', parent: 'b2' },
  ]);
  assert.equal(await pins(), 0);
});

test('the same with prepared statements (mysql2 execute(), the binary protocol)', async () => {
  const { children } = await sideBySide(
    [
      [0, "INSERT INTO $p (who) VALUES ('a')"],
      [1, "INSERT INTO $p (who) VALUES ('b')"],
      [0, 'SELECT LAST_INSERT_ID() AS id'],
      [1, "INSERT INTO $c VALUES (LAST_INSERT_ID(), 'b')"],
      [0, "INSERT INTO $c VALUES (LAST_INSERT_ID(), 'a')"],
      [1, 'SELECT LAST_INSERT_ID() AS id'],
    ],
    'execute',
  );
  assert.deepEqual(children, [
    { child: 'a', parent: 'a' },
    { child: 'b', parent: 'b' },
  ]);
});

test('what changes LAST_INSERT_ID() and what does not, as on a direct connection', async () => {
  await sideBySide([
    [0, "INSERT INTO $p (who, u) VALUES ('a', 1)"],
    // An explicit id: the OK carries it, LAST_INSERT_ID() stays.
    [1, "INSERT INTO $p (id, who, u) VALUES (100, 'b', 2)"],
    [1, 'SELECT LAST_INSERT_ID() AS id'],
    [0, "INSERT INTO $p (who, u) VALUES ('a', 1) ON DUPLICATE KEY UPDATE v = 1"],
    [0, 'SELECT LAST_INSERT_ID() AS id'],
    [1, "INSERT INTO $p (who, u) VALUES ('b', 2) ON DUPLICATE KEY UPDATE id = LAST_INSERT_ID(id)"],
    [0, "INSERT INTO $p (who, u) VALUES ('a', 3), ('a', 1)"],
    [1, 'SELECT LAST_INSERT_ID() AS id'],
    [0, 'SELECT LAST_INSERT_ID() AS id'],
    [1, "INSERT INTO $p (who, u) VALUES ('b', 2)"],
    [1, 'DO LAST_INSERT_ID(43)'],
    [0, 'SELECT LAST_INSERT_ID(42) AS x'],
    [1, 'SELECT LAST_INSERT_ID() AS id'],
    [0, 'SELECT LAST_INSERT_ID() AS id'],
    [1, "BEGIN NOT ATOMIC INSERT INTO $p (who) VALUES ('b'); END"],
    [0, "LOAD DATA LOCAL INFILE 'rows' INTO TABLE $p (who)"],
    [1, 'SELECT LAST_INSERT_ID() AS id'],
    [0, 'SELECT LAST_INSERT_ID() AS id, COUNT(*) AS n FROM $p'],
    [1, "BEGIN NOT ATOMIC INSERT INTO $p (who) VALUES ('b'); END"],
    [0, 'UPDATE $p SET v = LAST_INSERT_ID(77) WHERE u = 1'],
    [1, 'SELECT LAST_INSERT_ID() AS id'],
    [0, 'SELECT LAST_INSERT_ID() AS id'],
    // Inside a transaction (which holds the one connection: the other client waits outside it).
    [0, "INSERT INTO $p (who) VALUES ('a')"],
    [1, 'BEGIN'],
    [1, 'SELECT LAST_INSERT_ID() AS id'],
    [1, "INSERT INTO $p (who) VALUES ('b')"],
    [1, 'SELECT LAST_INSERT_ID() AS id'],
    [1, 'COMMIT'],
    [0, 'SELECT LAST_INSERT_ID() AS id'],
    [1, 'SELECT LAST_INSERT_ID() AS id'],
  ]);
});

test('ROW_COUNT() and FOUND_ROWS() where the previous statement ran: as direct in a transaction or multi-statement, else refused', async () => {
  const { answers } = await runScript(connectProxy, [
    [0, "INSERT INTO $p (who) VALUES ('a'), ('a'), ('a')"],
    [1, "INSERT INTO $p (who) VALUES ('b')"],
    [0, 'SELECT ROW_COUNT() AS n'],
    [1, 'SELECT * FROM $p'],
    [0, 'SELECT FOUND_ROWS() AS n'],
    [0, 'SELECT 1 AS one'],
  ]);
  assert.deepEqual(answers[2], { error: 1105 });
  assert.deepEqual(answers[4], { error: 1105 });
  assert.deepEqual(answers[5], [{ one: 1 }]);
  await sideBySide([
    [1, "INSERT INTO $p (who) VALUES ('b')"],
    [0, 'BEGIN'],
    [0, 'SELECT ROW_COUNT() AS n'],
    [0, "INSERT INTO $p (who) VALUES ('a'), ('a')"],
    [0, 'SELECT ROW_COUNT() AS n, LAST_INSERT_ID() AS id'],
    [0, 'SELECT who FROM $p LIMIT 1'],
    [0, 'SELECT FOUND_ROWS() AS n'],
    [0, 'COMMIT'],
    [1, "UPDATE $p SET v = 2 WHERE who = 'a'; SELECT ROW_COUNT() AS n"],
    // SQL_CALC_FOUND_ROWS pins: the session keeps its connection.
    [1, 'SELECT SQL_CALC_FOUND_ROWS who FROM $p LIMIT 1'],
    [1, 'SELECT FOUND_ROWS() AS n'],
    [1, 'SELECT ROW_COUNT() AS n'],
  ]);
});

test("the previous statement's warnings: never another client's (a duplicate key's value), as direct where the statement ran", async () => {
  const { answers } = await runScript(connectProxy, [
    [0, "INSERT INTO $p (who, u) VALUES ('a', 7)"],
    [0, "INSERT IGNORE INTO $p (who, u) VALUES ('a', 7)"],
    [1, 'SHOW WARNINGS'],
    [1, 'SELECT @@warning_count AS n'],
    [1, 'SHOW COUNT(*) WARNINGS'],
    [1, 'SELECT 1 AS one'],
  ]);
  // Client 1's previous statement ran elsewhere: refused, never client 0's "Duplicate entry '7'".
  assert.deepEqual(answers.slice(2, 5), [{ error: 1105 }, { error: 1105 }, { error: 1105 }]);
  assert.deepEqual(answers[5], [{ one: 1 }]);
  await sideBySide([
    [0, "INSERT INTO $p (who, u) VALUES ('a', 8)"],
    [1, 'BEGIN'],
    [1, "INSERT IGNORE INTO $p (who, u) VALUES ('b', 8)"],
    [1, 'SHOW WARNINGS'],
    [1, 'SELECT @@warning_count AS n'],
    [1, 'COMMIT'],
    [0, "INSERT IGNORE INTO $p (who, u) VALUES ('a', 8); SHOW WARNINGS"],
  ]);
});

test('a client that turns the trackers off: its LAST_INSERT_ID() cannot be read back, so its session keeps the connection', async () => {
  const before = await pins();
  const { children } = await sideBySide([
    [0, "SET SESSION session_track_system_variables = ''"],
    [0, "INSERT INTO $p (who) VALUES ('a')"],
    [0, "INSERT INTO $c VALUES (LAST_INSERT_ID(), 'a')"],
    [0, 'SELECT LAST_INSERT_ID() AS id'],
  ]);
  assert.deepEqual(children, [{ child: 'a', parent: 'a' }]);
  assert.equal(await pins(), before + 1);
});

test('PyMySQL: two clients alternating inserts read their own LAST_INSERT_ID(), as on direct connections', async () => {
  const script = `
import sys, pymysql
host, port, user, password, p, c = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
conns = [pymysql.connect(host=host, port=port, user=user, password=password, database='app', autocommit=True) for _ in range(2)]
def q(i, sql):
    with conns[i].cursor() as cur:
        cur.execute(sql)
        return cur.fetchall() if cur.description else cur.lastrowid
out = []
for n in range(3):
    for i, who in enumerate('ab'):
        out.append(q(i, f"INSERT INTO {p} (who) VALUES ('{who}{n}')"))
    for i, who in enumerate('ab'):
        out.append(q(i, 'SELECT LAST_INSERT_ID()'))
        q(i, f"INSERT INTO {c} VALUES (LAST_INSERT_ID(), '{who}{n}')")
print(out)
`;
  const outputs: string[] = [];
  const children: unknown[] = [];
  for (const [host, port, user] of [
    ['127.0.0.1', stack.proxy.port, `shop.${shop.user}`],
    [direct.host, direct.port, shop.user],
  ] as const) {
    const { p, c } = await makeTables();
    const { stdout } = await run('/usr/bin/python3', ['-c', script, host, String(port), user, shop.password, p, c]);
    outputs.push(stdout.trim());
    const check = await connectDirect();
    const [rows] = await check.query(`SELECT ${c}.who AS child, ${p}.who AS parent FROM ${c} JOIN ${p} ON ${p}.id = ${c}.parent_id ORDER BY 1`);
    await check.end();
    children.push(rows);
  }
  assert.equal(outputs[0], outputs[1]);
  assert.deepEqual(children[0], children[1]);
  for (const row of children[0] as Array<{ child: string; parent: string }>) assert.equal(row.child, row.parent);
});

async function pins(): Promise<number> {
  const m = await stack.proxy.metrics.sessionPins.get();
  return m.values.reduce((n, v) => n + v.value, 0);
}
