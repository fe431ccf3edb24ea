// Backend pools against a real mariadbd: reuse, reset, isolation between borrowers,
// dead connections, dropped computes, limits. State is checked with raw COM_QUERY on
// the pooled connections themselves.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { nativePasswordStage1 } from '../../protocol/auth/native-password.js';
import { framePacket } from '../../protocol/framing.js';
import { writeComQuery } from '../../protocol/commands/com-query.js';
import { BackendLoginError, loginBackend, nativeLogin, type LoggedInBackend } from '../../backend/login.js';
import {
  ComputeDroppedError,
  createBackendPools,
  PoolTimeoutError,
  type BackendPoolOptions,
  type BackendPools,
} from '../../pool/backend-pool.js';
import { startStandaloneMariadb, type StandaloneMariadb } from '../helpers/standalone-mariadb.js';
import { testLogger } from '../helpers/logger.js';
import { CLIENT_CAPS, delay, exec, keyFor, scalar, waitFor } from './pool-support.js';
import { closedByPool } from '../helpers/fake-logins.js';
import type { PooledBackend } from '../../pool/pooled-backend.js';

let db: StandaloneMariadb;
let admin: LoggedInBackend;
const adminTarget = () => ({ socket: admin.socket, capabilities: CLIENT_CAPS, mariadbCapabilities: 0 });
const login = () => nativeLogin(nativePasswordStage1('app-secret'), { timeoutMs: 5_000 });
const open: BackendPools[] = [];

function pools(over: Partial<BackendPoolOptions> = {}): BackendPools {
  const p = createBackendPools({
    maxPerCompute: 4,
    idleTimeoutMs: 60_000,
    acquireTimeoutMs: 2_000,
    logger: testLogger(),
    ...over,
  });
  open.push(p);
  return p;
}

/** Is the server still running a thread with this id? */
async function threadAlive(id: number): Promise<boolean> {
  return (await scalar(adminTarget(), `SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = ${id}`)) === '1';
}

before(async () => {
  // What app, with no GRANT OPTION, cannot do itself: roles with privileges (app may grant them).
  const roles = [
    "CREATE ROLE clerk WITH ADMIN app@'%';",
    "CREATE ROLE `odd``role` WITH ADMIN app@'%';",
    'GRANT SELECT ON shop.* TO clerk;',
  ];
  db = await startStandaloneMariadb('app', 'app-secret', roles.join('\n'));
  admin = await loginBackend(keyFor(db), nativePasswordStage1('app-secret'), { timeoutMs: 5_000 });
  for (const sql of [
    'CREATE DATABASE shop',
    'CREATE DATABASE other',
    'CREATE TABLE shop.orders (id INT PRIMARY KEY)',
    'CREATE ROLE reader',
    "GRANT reader TO app@'%'",
  ]) {
    await exec(adminTarget(), sql);
  }
});

after(async () => {
  await Promise.all(open.map((p) => p.close()));
  admin?.socket.destroy();
  await db?.stop();
});

test('a released backend is reset and handed to the next borrower', async () => {
  const p = pools();
  const key = keyFor(db, { database: 'shop' });
  const first = await p.acquire(key, login());
  assert.equal(first.borrows, 1);
  assert.equal(first.socket.isPaused(), true, 'handed out paused');
  const thread = first.threadId;
  assert.equal(await scalar(first, 'SELECT CONNECTION_ID()'), String(thread));
  assert.deepEqual(p.stats().total, { inUse: 1, idle: 0, waiting: 0, open: 1 });
  await p.release(first, { dirty: false });
  assert.deepEqual(p.stats().total, { inUse: 0, idle: 1, waiting: 0, open: 1 });
  const second = await p.acquire(key, login());
  assert.equal(second.threadId, thread);
  assert.equal(second.borrows, 2);
  assert.equal(await scalar(second, 'SELECT CONNECTION_ID()'), String(thread));
  assert.deepEqual(Object.keys(p.stats().computes), [`${db.host}:${db.port}`]);
  await p.release(second, { dirty: false });
});

test('session state does not leak between borrowers', async () => {
  const p = pools();
  const key = keyFor(db, { database: 'shop' });
  const a = await p.acquire(key, login());
  await exec(a, 'SET @secret = 42');
  await exec(a, 'CREATE TEMPORARY TABLE scratch (x INT)');
  await exec(a, "SET SESSION sql_mode = 'ANSI_QUOTES'");
  await exec(a, 'SET NAMES latin1');
  await exec(a, "PREPARE stmt FROM 'SELECT 1'");
  await exec(a, 'USE other');
  await exec(a, 'START TRANSACTION');
  await exec(a, 'INSERT INTO shop.orders VALUES (1)');
  assert.equal(await scalar(a, 'SELECT @@in_transaction'), '1');
  const thread = a.threadId;
  // The client quit inside its transaction: the reset rolls it back.
  await p.release(a, { dirty: false });

  const b = await p.acquire(key, login());
  assert.equal(b.threadId, thread, 'the same connection was reused');
  assert.equal(await scalar(b, 'SELECT @secret'), null);
  await assert.rejects(scalar(b, 'SELECT * FROM scratch'), /1146/);
  assert.equal(await scalar(b, 'SELECT @@session.sql_mode = @@global.sql_mode'), '1');
  assert.equal(await scalar(b, 'SELECT @@character_set_client'), 'utf8mb4');
  await assert.rejects(exec(b, 'EXECUTE stmt'), /1243/); // unknown prepared statement
  assert.equal(await scalar(b, 'SELECT DATABASE()'), 'shop');
  assert.equal(await scalar(b, 'SELECT @@in_transaction'), '0');
  assert.equal(await scalar(b, 'SELECT COUNT(*) FROM shop.orders'), '0');
  await p.release(b, { dirty: false });
});

test('a borrower that vanished inside a transaction leaves nothing behind', async () => {
  const p = pools();
  const key = keyFor(db, { database: 'shop' });
  const a = await p.acquire(key, login());
  await exec(a, 'START TRANSACTION');
  await exec(a, 'INSERT INTO orders VALUES (2)');
  const thread = a.threadId;
  // What the session relay reports for a client that closed without COM_QUIT.
  await p.release(a, { dirty: true });
  await waitFor('the vanished borrower thread to end', async () => !(await threadAlive(thread)));
  const b = await p.acquire(key, login());
  assert.notEqual(b.threadId, thread);
  assert.equal(await scalar(b, 'SELECT COUNT(*) FROM orders WHERE id = 2'), '0');
  await p.release(b, { dirty: false });
});

test('state a reset cannot undo gets the connection destroyed', async () => {
  const p = pools();
  // No database at login: a USE cannot be undone.
  const noDb = keyFor(db);
  const a = await p.acquire(noDb, login());
  await exec(a, 'USE shop');
  const used = a.threadId;
  await p.release(a, { dirty: false });
  const b = await p.acquire(noDb, login());
  assert.notEqual(b.threadId, used);
  assert.equal(await scalar(b, 'SELECT DATABASE()'), null);
  await p.release(b, { dirty: false });
  await waitFor('the destroyed thread to end', async () => !(await threadAlive(used)));
});

test("an active role the client set, which survives COM_RESET_CONNECTION, gets the connection destroyed; the login's role keeps it", async () => {
  for (const sql of [
    "CREATE USER roled@'%' IDENTIFIED BY 'roled-secret'",
    "GRANT clerk TO roled@'%'",
    "GRANT `odd``role` TO roled@'%'",
    "GRANT reader TO roled@'%'",
    "SET DEFAULT ROLE clerk FOR roled@'%'",
  ]) {
    await exec(adminTarget(), sql);
  }
  const p = pools();
  const roledLogin = () => nativeLogin(nativePasswordStage1('roled-secret'), { timeoutMs: 5_000 });
  const cases = [
    { label: 'no default role', key: keyFor(db, { database: 'shop' }), logIn: login, baseline: null, others: ['reader', '`odd``role`'] },
    { label: 'a default role', key: keyFor(db, { user: 'roled' }), logIn: roledLogin, baseline: 'clerk', others: ['reader', 'NONE', '`odd``role`'] },
  ];
  for (const { label, key, logIn, baseline, others } of cases) {
    const a = await p.acquire(key, logIn());
    assert.equal(await scalar(a, 'SELECT CURRENT_ROLE()'), baseline, `${label}: the login's role`);
    // The login's own role again (its default role, or NONE without one): kept.
    await exec(a, baseline === null ? 'SET ROLE NONE' : `SET ROLE ${baseline}`);
    const same = a.threadId;
    await p.release(a, { dirty: false });
    const a2 = await p.acquire(key, logIn());
    assert.equal(a2.threadId, same, `${label}: kept with the login's role`);
    await p.release(a2, { dirty: false });
    // Each reset after the first is compared with the one before.
    for (const role of others) {
      const b = await p.acquire(key, logIn());
      const roled = b.threadId;
      await exec(b, `SET ROLE ${role}`);
      await p.release(b, { dirty: false });
      const c = await p.acquire(key, logIn());
      assert.notEqual(c.threadId, roled, `${label}: destroyed after SET ROLE ${role}`);
      assert.equal(await scalar(c, 'SELECT CURRENT_ROLE()'), baseline, `${label}: a fresh login's role after SET ROLE ${role}`);
      await p.release(c, { dirty: false });
      await waitFor('the destroyed thread to end', async () => !(await threadAlive(roled)));
    }
  }
  // A login's default role the account lost while its connection was lent: the session keeps it, a fresh login has none.
  const d = await p.acquire(cases[1]!.key, roledLogin());
  const lost = d.threadId;
  await exec(adminTarget(), "REVOKE clerk FROM roled@'%'");
  assert.equal(await scalar(d, 'SELECT CURRENT_ROLE()'), 'clerk', 'still active in the session');
  await p.release(d, { dirty: false });
  await waitFor('the connection whose role was revoked to be destroyed', async () => !(await threadAlive(lost)));
});

test('a connection whose resets passed before, compared rather than parsed, is still destroyed by state a reset cannot undo', async () => {
  const p = pools();
  const dirtiers: Array<[string, (b: PooledBackend) => Promise<void>]> = [
    ['USE', (b) => exec(b, 'USE shop')],
    ['SET ROLE', (b) => exec(b, 'SET ROLE reader')],
    ['profiling', async (b) => {
      await exec(b, 'SET profiling = 1');
      await exec(b, 'DO 1');
    }],
    ['an unread reply', async (b) => void b.socket.write(framePacket(writeComQuery('SELECT SLEEP(0.2), 1'), 0))],
  ];
  for (const [what, dirty] of dirtiers) {
    const key = keyFor(db);
    const a = await p.acquire(key, login());
    const thread = a.threadId;
    // Two clean returns: the first keeps its replies, the second is compared with them.
    await p.release(a, { dirty: false });
    assert.ok((a as unknown as { baseline: { resetReplies?: Buffer } }).baseline.resetReplies instanceof Buffer, `${what}: replies kept`);
    const again = await p.acquire(key, login());
    assert.equal(again.threadId, thread, `${what}: the clean connection is reused`);
    await p.release(again, { dirty: false });
    const b = await p.acquire(key, login());
    assert.equal(b.threadId, thread);
    await dirty(b);
    await p.release(b, { dirty: false });
    const c = await p.acquire(key, login());
    assert.notEqual(c.threadId, thread, `${what}: the dirtied connection is not reused`);
    assert.equal(await scalar(c, 'SELECT CONCAT_WS(\'/\', IFNULL(DATABASE(), \'-\'), IFNULL(CURRENT_ROLE(), \'-\'), (SELECT COUNT(*) FROM information_schema.PROFILING))'), '-/-/0');
    await p.release(c, { dirty: false });
    // Destroyed, so the next test starts from a fresh connection.
    await p.destroy(await p.acquire(key, login()));
  }
});

test('a backend with unread replies is destroyed on release, not reused', async () => {
  const p = pools();
  const key = keyFor(db, { database: 'shop' });
  const a = await p.acquire(key, login());
  const thread = a.threadId;
  // A client that sent a command and quit without reading the answer.
  a.socket.write(framePacket(writeComQuery('SELECT SLEEP(0.2), 1'), 0));
  await p.release(a, { dirty: false });
  const b = await p.acquire(key, login());
  assert.notEqual(b.threadId, thread);
  await p.release(b, { dirty: false });
});

test('a backend killed on the server is noticed and replaced, never handed out', async () => {
  const p = pools();
  const key = keyFor(db, { database: 'shop' });
  const a = await p.acquire(key, login());
  const killed = a.threadId;
  await p.release(a, { dirty: false });
  await exec(adminTarget(), `KILL ${killed}`);
  // The idle watch sees the close; the next borrower gets a new connection.
  await waitFor('the pool to notice', () => !a.alive);
  const b = await p.acquire(key, login());
  assert.notEqual(b.threadId, killed);
  assert.equal(await scalar(b, 'SELECT 1'), '1');
  await p.release(b, { dirty: false });
  assert.equal(p.stats().total.open, 1);
});

test('a connection idle past pingAfterIdleMs is pinged on borrow, so a fresh kill is caught', async () => {
  const p = pools({ pingAfterIdleMs: 0 });
  const key = keyFor(db, { database: 'shop' });
  const a = await p.acquire(key, login());
  const killed = a.threadId;
  await p.release(a, { dirty: false });
  await exec(adminTarget(), `KILL ${killed}`);
  const b = await p.acquire(key, login()); // no waiting for the close to arrive
  assert.notEqual(b.threadId, killed);
  assert.equal(await scalar(b, 'SELECT 1'), '1');
  await p.release(b, { dirty: false });
  // A live idle connection passes its ping and is reused.
  const c = await p.acquire(key, login());
  assert.equal(c.threadId, b.threadId);
  await p.release(c, { dirty: false });
});

test('a backend killed while borrowed is destroyed on release', async () => {
  const p = pools();
  const key = keyFor(db, { database: 'shop' });
  const a = await p.acquire(key, login());
  await exec(adminTarget(), `KILL ${a.threadId}`);
  await waitFor('the close to arrive', () => a.socket.destroyed || !a.alive, 2_000).catch(() => {});
  await p.release(a, { dirty: false });
  assert.deepEqual(p.stats().total, { inUse: 0, idle: 0, waiting: 0, open: 0 });
});

test('dropCompute fails waiters at once, refuses returns and closes idle connections', async () => {
  const p = pools({ maxPerCompute: 2, acquireTimeoutMs: 5_000 });
  const key = keyFor(db, { database: 'shop' });
  const [a, b] = await Promise.all([p.acquire(key, login()), p.acquire(key, login())]);
  const waiting = p.acquire(key, login());
  await delay(20);
  assert.equal(p.stats().total.waiting, 1);
  const started = Date.now();
  await p.dropCompute(key.addr);
  await assert.rejects(waiting, ComputeDroppedError);
  assert.ok(Date.now() - started < 1_000);
  assert.equal(a.socket.destroyed, false, 'a borrowed connection lives on with its client');
  await p.release(a, { dirty: false });
  await p.destroy(b);
  assert.ok(closedByPool(a.socket), 'and is closed when it comes back');
  assert.ok(closedByPool(b.socket));
  assert.deepEqual(p.stats().total, { inUse: 0, idle: 0, waiting: 0, open: 0 });

  // The compute woke again: a fresh pool for it, whose idle connection the next drop closes.
  const c = await p.acquire(key, login());
  assert.notEqual(c.threadId, a.threadId);
  await p.release(c, { dirty: false });
  assert.equal(p.stats().total.idle, 1);
  await p.dropCompute(key.addr);
  assert.ok(closedByPool(c.socket), 'idle connection closed');
  assert.deepEqual(p.stats().total, { inUse: 0, idle: 0, waiting: 0, open: 0 });
  await waitFor('the compute threads to end', async () => !(await threadAlive(c.threadId)) && !(await threadAlive(a.threadId)));
});

test('the per-compute limit holds across keys and acquire times out with a clear error', async () => {
  const p = pools({ maxPerCompute: 2, acquireTimeoutMs: 300 });
  const shop = keyFor(db, { database: 'shop' });
  const other = keyFor(db, { database: 'other' });
  const a = await p.acquire(shop, login());
  const b = await p.acquire(other, login());
  const started = Date.now();
  await assert.rejects(p.acquire(shop, login()), (err: Error) => {
    assert.ok(err instanceof PoolTimeoutError);
    assert.match(err.message, /no backend connection for user 'app' on compute c-test \(127\.0\.0\.1:\d+\) within 300 ms: 2 of 2 allowed connections open/);
    return true;
  });
  assert.ok(Date.now() - started < 1_500);
  // A waiter is served as soon as a connection is returned.
  const waiter = p.acquire(shop, login());
  await delay(20);
  assert.equal(p.stats().total.waiting, 1);
  await p.release(a, { dirty: false });
  const c = await waiter;
  assert.equal(c.threadId, a.threadId);
  await p.release(b, { dirty: false });
  await p.release(c, { dirty: false });
});

test('a borrower queued behind its own key times out with the same clear error', async () => {
  const p = pools({ maxPerCompute: 1, acquireTimeoutMs: 200 });
  const key = keyFor(db, { database: 'shop' });
  const a = await p.acquire(key, login());
  await assert.rejects(p.acquire(key, login()), (err: Error) => {
    assert.ok(err instanceof PoolTimeoutError, `${err.name}: ${err.message}`);
    assert.match(err.message, /within 200 ms: 1 of 1 allowed connections open/);
    return true;
  });
  await p.release(a, { dirty: false });
  const b = await p.acquire(key, login());
  assert.equal(b.threadId, a.threadId, 'the timed-out request did not swallow the connection');
  await p.release(b, { dirty: false });
});

test('idle connections of one key make room for another key of the same compute', async () => {
  const p = pools({ maxPerCompute: 1, acquireTimeoutMs: 1_000 });
  const a = await p.acquire(keyFor(db, { database: 'shop' }), login());
  await p.release(a, { dirty: false });
  const b = await p.acquire(keyFor(db, { database: 'other' }), login());
  assert.ok(closedByPool(a.socket));
  assert.equal(await scalar(b, 'SELECT DATABASE()'), 'other');
  await p.release(b, { dirty: false });
  assert.equal(p.stats().total.open, 1);
});

test('a failing login reaches its borrower at once and is not retried', async () => {
  const p = pools({ acquireTimeoutMs: 5_000 });
  const before = Number(await scalar(adminTarget(), "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'ACCESS_DENIED_ERRORS'"));
  const started = Date.now();
  await assert.rejects(
    p.acquire(keyFor(db), nativeLogin(nativePasswordStage1('wrong'), { timeoutMs: 5_000 })),
    (err: Error) => err instanceof BackendLoginError && err.serverError?.code === 1045,
  );
  assert.ok(Date.now() - started < 1_000);
  await delay(100);
  const afterCount = Number(await scalar(adminTarget(), "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'ACCESS_DENIED_ERRORS'"));
  assert.equal(afterCount - before, 1, 'exactly one login attempt');
  assert.deepEqual(p.stats().total, { inUse: 0, idle: 0, waiting: 0, open: 0 });
});

test('a borrower that gives up while waiting leaves no trace', async () => {
  const p = pools({ maxPerCompute: 1, acquireTimeoutMs: 5_000 });
  const key = keyFor(db, { database: 'shop' });
  const a = await p.acquire(key, login());
  const ac = new AbortController();
  const waiting = p.acquire(key, login(), ac.signal);
  await delay(20);
  ac.abort(new Error('client went away'));
  await assert.rejects(waiting, /client went away/);
  await p.release(a, { dirty: false });
  await delay(20);
  assert.deepEqual(p.stats().total, { inUse: 0, idle: 1, waiting: 0, open: 1 });
});

test('idle connections are evicted after idleTimeoutMs', async () => {
  const p = pools({ idleTimeoutMs: 100, evictionIntervalMs: 25 });
  const a = await p.acquire(keyFor(db, { database: 'shop' }), login());
  await p.release(a, { dirty: false });
  await waitFor('eviction', () => a.socket.destroyed, 3_000);
  await waitFor('the janitor', () => Object.keys(p.stats().computes).length === 0, 3_000);
});

test('tryAcquire lends a ready idle connection at once, and leaves anything needing a check to acquire()', async () => {
  const p = pools({ pingAfterIdleMs: 200, idleTimeoutMs: 300, evictionIntervalMs: 25 });
  const key = keyFor(db, { database: 'shop' });
  assert.equal(p.tryAcquire(key), null, 'no compute pool yet');
  const a = await p.acquire(key, login());
  assert.equal(p.tryAcquire(key), null, 'nothing idle');
  await p.release(a, { dirty: false, reset: false });
  const b = p.tryAcquire(key);
  assert.equal(b, a, 'the idle connection, lent');
  assert.equal(b!.borrows, 2);
  assert.equal(b!.socket.isPaused(), true, 'handed out paused');
  assert.deepEqual(p.stats().total, { inUse: 1, idle: 0, waiting: 0, open: 1 });
  assert.equal(await scalar(b!, 'SELECT 1'), '1');
  await p.release(b!, { dirty: false, reset: false });

  // Idle past pingAfterIdleMs: not lent unchecked; acquire() pings it and lends it.
  await delay(250);
  assert.equal(p.tryAcquire(key), null);
  assert.equal(p.stats().total.idle, 1, 'left where it was');
  const c = await p.acquire(key, login());
  assert.equal(c.threadId, a.threadId);
  await p.release(c, { dirty: false, reset: false });

  // Dead while idle: not lent.
  await exec(adminTarget(), `KILL ${c.threadId}`);
  await waitFor('the pool to notice', () => !c.alive);
  assert.equal(p.tryAcquire(key), null);

  // The janitor forgets the key pool once it is empty; a new one is found again.
  await waitFor('the janitor', () => Object.keys(p.stats().computes).length === 0, 3_000);
  const d = await p.acquire(key, login());
  await p.release(d, { dirty: false, reset: false });
  const e = p.tryAcquire(key);
  assert.equal(e, d);
  await p.release(e!, { dirty: false, reset: false });

  // A dropped compute lends nothing.
  await p.dropCompute(key.addr);
  assert.equal(p.tryAcquire(key), null);
});
