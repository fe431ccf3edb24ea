// Transaction pooling and stored code (issue 13): a stored function, trigger or view that
// takes a named lock or advances a sequence leaves it on the compute connection with no
// word in the client's statement and no report from the compute. The session that ran
// it must keep that connection (pinned, reason stored_code), so the next client of the
// same user never inherits the lock or the sequence's value. Each case: client A runs
// the statement, client B (same user, next) must see what a direct connection that
// never took the lock sees, A must still hold it, and it is free once A quits.
// A compute whose stored code cannot be listed pins every session (fail closed).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import { pino } from 'pino';
import { startStack, type ProjectCredentials, type Stack } from '../helpers/stack.js';
import { pinsByReason, waitFor } from './pool-support.js';

let stack: Stack;
let shop: ProjectCredentials;
/** The owner, straight to the compute: stored code made here reaches the proxy only through the control plane. */
let direct: mysql.Connection;
const logLines: Array<{ msg: string; project?: string }> = [];

before(async () => {
  const logger = pino({ level: 'info' }, { write: (line: string) => void logLines.push(JSON.parse(line)) });
  stack = await startStack({ logger, verify: { ttlMs: 5_000, poolMode: 'transaction', poolMax: 10, poolAcquireTimeoutMs: 5_000 } });
  shop = await stack.createProject('shop');
  const wake = await connect(shop.user, shop.password, 'shop', null);
  await wake.query('CREATE DATABASE IF NOT EXISTS app');
  await wake.end();
  direct = await connectDirect(shop);
});
after(async () => {
  await direct?.end();
  await stack?.close();
});

/**
 * In the database of the stored code: a routine of another database than the session's
 * makes the compute report a change of database, which pinned such calls before; one of
 * the session's own database reports nothing at all.
 */
function connect(user: string, password: string, project = 'shop', database: string | null = 'app') {
  return mysql.createConnection({ host: '127.0.0.1', port: stack.proxy.port, user: `${project}.${user}`, password, ...(database ? { database } : {}) });
}

async function connectDirect(p: ProjectCredentials): Promise<mysql.Connection> {
  const c = await stack.compute(p.computeId);
  return mysql.createConnection({ host: c.host, port: c.port, user: p.user, password: p.password, multipleStatements: true });
}

async function one(conn: mysql.Connection, sql: string): Promise<unknown> {
  const [rows] = await conn.query(sql);
  return Object.values((rows as Array<Record<string, unknown>>)[0]!)[0];
}

let users = 0;
/** A user of its own per case, made on the compute (so its first login has the control plane read the compute again). */
async function newUser(): Promise<{ user: string; password: string }> {
  const user = `u${++users}`;
  await direct.query(`CREATE USER '${user}'@'%' IDENTIFIED BY 'pw-${user}'`);
  await direct.query(`GRANT ALL ON app.* TO '${user}'@'%'`);
  return { user, password: `pw-${user}` };
}

async function pins(reason: string): Promise<number> {
  return (await pinsByReason(stack.proxy))[reason] ?? 0;
}

/**
 * A runs `statement` (which takes lock `lock` inside stored code); B, the same user's next
 * client, must find the lock not its own, as a direct connection that never took it does.
 */
async function lockStaysWithItsSession(lock: string, statement: (a: mysql.Connection) => Promise<unknown>): Promise<void> {
  const who = await newUser();
  const pinned = await pins('stored_code');
  const a = await connect(who.user, who.password);
  assert.equal(Number(await statement(a)), 1, `A took ${lock}`);
  const b = await connect(who.user, who.password);
  // RELEASE_LOCK of a lock another session holds: 0, and it stays held; of one nobody holds: NULL.
  const reference = await one(direct, `SELECT RELEASE_LOCK('${lock}')`);
  assert.equal(reference, 0, 'the direct connection sees the lock held by someone else');
  for (let round = 0; round < 3; round++) {
    assert.equal(await one(b, `SELECT RELEASE_LOCK('${lock}')`), reference, `B (round ${round}) cannot release A's lock`);
  }
  assert.equal(await one(direct, `SELECT IS_FREE_LOCK('${lock}')`), 0, 'A still holds it');
  assert.equal(await one(a, `SELECT IS_USED_LOCK('${lock}') IS NOT NULL AND RELEASE_LOCK('${lock}') = 1`), 1, 'A can release its own lock');
  assert.equal(await one(a, `SELECT GET_LOCK('${lock}', 0)`), 1);
  assert.equal(await pins('stored_code'), pinned + 1, 'A pinned for stored code');
  await b.end();
  await a.end();
  await waitFor(`${lock} freed once A quit`, async () => Number(await one(direct, `SELECT IS_FREE_LOCK('${lock}')`)) === 1);
}

test('a stored function that takes a named lock: the lock stays with the session that called it', async () => {
  await direct.query("CREATE FUNCTION app.lock_x() RETURNS INT RETURN GET_LOCK('x', 0)");
  await lockStaysWithItsSession('x', (a) => one(a, 'SELECT lock_x()'));
});

test('a trigger that takes a named lock: an INSERT firing it pins', async () => {
  await direct.query('CREATE TABLE app.audit (a INT, got INT)');
  await direct.query("CREATE TRIGGER app.audit_lock BEFORE INSERT ON app.audit FOR EACH ROW SET NEW.got = GET_LOCK('y', 0)");
  await lockStaysWithItsSession('y', async (a) => {
    await a.query('INSERT INTO audit (a) VALUES (1)');
    return one(a, 'SELECT got FROM audit WHERE a = 1');
  });
});

test('a view over such a function, a function calling one, and one calling such a procedure, pin', async () => {
  await direct.query("CREATE FUNCTION app.lock_z() RETURNS INT RETURN GET_LOCK('z', 0)");
  await direct.query('CREATE VIEW app.v_z AS SELECT app.lock_z() AS got');
  await lockStaysWithItsSession('z', (a) => one(a, 'SELECT got FROM v_z'));
  await direct.query("CREATE FUNCTION app.lock_w() RETURNS INT RETURN GET_LOCK('w', 0)");
  await direct.query('CREATE FUNCTION app.outer_w() RETURNS INT RETURN app.lock_w() + 0');
  // Quoted names are names too.
  await lockStaysWithItsSession('w', (a) => one(a, 'SELECT `OUTER_W`()'));
  // A function that CALLs a procedure taking the lock.
  await direct.query("CREATE PROCEDURE app.lock_q() DO GET_LOCK('q', 0)");
  await direct.query("CREATE FUNCTION app.calls_q() RETURNS INT BEGIN CALL app.lock_q(); RETURN IS_USED_LOCK('q') IS NOT NULL; END");
  await lockStaysWithItsSession('q', (a) => one(a, 'SELECT calls_q()'));
});

test('a prepared statement calling such a function pins when it runs', async () => {
  await direct.query("CREATE FUNCTION app.lock_p() RETURNS INT RETURN GET_LOCK('p', 0)");
  await lockStaysWithItsSession('p', async (a) => {
    const [rows] = await a.execute('SELECT lock_p() AS got');
    return (rows as Array<{ got: number }>)[0]!.got;
  });
});

test('NEXTVAL inside a function: the next client reads no LASTVAL, as on a direct connection', async () => {
  await direct.query('CREATE SEQUENCE app.s');
  await direct.query('CREATE FUNCTION app.next_s() RETURNS BIGINT RETURN NEXTVAL(app.s)');
  const who = await newUser();
  const a = await connect(who.user, who.password);
  const got = Number(await one(a, 'SELECT next_s()'));
  const b = await connect(who.user, who.password);
  const fresh = await connectDirect(shop);
  const reference = await one(fresh, 'SELECT LASTVAL(app.s)');
  await fresh.end();
  assert.equal(reference, null);
  for (let round = 0; round < 3; round++) assert.equal(await one(b, 'SELECT LASTVAL(s)'), reference, `B round ${round}`);
  assert.equal(Number(await one(a, 'SELECT LASTVAL(s)')), got, 'A keeps its own');
  await Promise.all([a.end(), b.end()]);
});

test("NEXTVAL, SETVAL and NEXT VALUE FOR in the client's own text pin (the compute reports none of them)", async () => {
  await direct.query('CREATE SEQUENCE IF NOT EXISTS app.s2');
  const who = await newUser();
  for (const sql of ['SELECT NEXTVAL(s2)', 'SELECT NEXT VALUE FOR s2', 'SELECT SETVAL(s2, 100)']) {
    const before = await pins('sequence');
    const a = await connect(who.user, who.password);
    await a.query(sql);
    const b = await connect(who.user, who.password);
    assert.equal(await one(b, 'SELECT LASTVAL(s2)'), null, `after ${sql}`);
    assert.equal(await pins('sequence'), before + 1, sql);
    await Promise.all([a.end(), b.end()]);
  }
});

test('stored code made through the proxy counts at once, before the compute is read again', async () => {
  const who = await newUser();
  const a = await connect(who.user, who.password);
  assert.equal(await one(a, 'SELECT 1'), 1);
  // The owner, through the proxy: its session learns the new function from its text.
  const owner = await connect(shop.user, shop.password);
  await owner.query("CREATE FUNCTION lock_v() RETURNS INT RETURN GET_LOCK('v', 0)");
  await owner.end();
  const pinned = await pins('stored_code');
  assert.equal(Number(await one(a, 'SELECT lock_v()')), 1);
  assert.equal(await pins('stored_code'), pinned + 1);
  const b = await connect(who.user, who.password);
  assert.equal(await one(b, "SELECT RELEASE_LOCK('v')"), 0);
  await Promise.all([a.end(), b.end()]);
});

test('statements that mention no such code do not pin, on a compute that has some', async () => {
  const who = await newUser();
  const before = await pinsByReason(stack.proxy);
  const c = await connect(who.user, who.password);
  await c.query('CREATE TABLE IF NOT EXISTS plain (id INT)');
  await c.query('INSERT INTO plain VALUES (1)');
  await c.query("SELECT id, 'lock_x' AS s FROM plain /* lock_x() */");
  await c.end();
  assert.deepEqual(await pinsByReason(stack.proxy), before);
});

test("a compute whose stored code cannot be listed pins every session at its first statement, and says so once", async () => {
  const legacy = await stack.createProject('legacy');
  const wake = await connect(legacy.user, legacy.password, 'legacy', null);
  await wake.query('SELECT 1');
  await wake.end();
  // What a compute provisioned before the procedure existed looks like.
  const owner = await connectDirect(legacy);
  await owner.query('DROP PROCEDURE mysql.wakeproxy_stored_code');
  await owner.query("CREATE USER 'late'@'%' IDENTIFIED BY 'late-pw'");
  await owner.end();
  const before = await pins('stored_code_unknown');
  // A new user name: its login has the compute read again, which finds no procedure.
  for (let i = 0; i < 2; i++) {
    const c = await connect('late', 'late-pw', 'legacy', null);
    assert.equal(await one(c, 'SELECT 1'), 1);
    await c.end();
  }
  assert.equal(await pins('stored_code_unknown'), before + 2);
  const warnings = logLines.filter((l) => l.project === 'legacy' && /stored code is not known/.test(l.msg));
  assert.equal(warnings.length, 1, 'the proxy says it once');
  assert.ok(logLines.some((l) => /cannot list the compute's stored code/.test(l.msg)), 'the control plane says it too');
});
