// The pool's upkeep without mariadbd: checks on return and before lending, dead idle
// connections, the janitor, a dropped compute and a closed pool. Logins are loopback
// socket pairs and the checks are scripted (test/helpers/fake-logins.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ComputeDroppedError, ComputeUnresponsiveError, PoolClosedError } from '../../pool/backend-pool.js';
import { ScriptedChecks, closedByPool, delay, fakeComputeSuite, fakePools, settle } from '../helpers/fake-logins.js';

const fake = fakeComputeSuite();
const { pools } = fake;

async function until(what: string, check: () => boolean, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(5);
  }
}

test('a release resets; a failed reset, a dirty return or a dead connection is closed', async () => {
  const checks = new ScriptedChecks();
  const p = pools(checks);
  const key = fake.compute.key();
  const login = fake.compute.login();
  const a = await p.acquire(key, login);
  await p.release(a, { dirty: false });
  assert.equal(checks.resets, 1);
  const same = await p.acquire(key, login);
  assert.equal(same, a);
  await p.release(same, { dirty: false, reset: false });
  assert.equal(checks.resets, 1, 'reset: false skips it');

  checks.resetAnswer = { ok: false, reason: 'state check answered 2 rows' };
  const b = await p.acquire(key, login);
  await p.release(b, { dirty: false });
  assert.equal(closedByPool(b.socket), true);
  checks.resetAnswer = { ok: true };

  const c = await p.acquire(key, login);
  await p.release(c, { dirty: true });
  assert.equal(closedByPool(c.socket), true);
  assert.equal(checks.resets, 2, 'no reset for a dirty return');

  const d = await p.acquire(key, login);
  fake.compute.endOf(d.socket).destroy();
  await until('the close', () => !d.alive);
  await p.release(d, { dirty: false });
  assert.equal(closedByPool(d.socket), true);
  assert.deepEqual(p.stats().total, { inUse: 0, idle: 0, waiting: 0, open: 0 });
});

test('an idle connection the compute closed is noticed and never lent', async () => {
  const p = pools(new ScriptedChecks());
  const key = fake.compute.key();
  const login = fake.compute.login();
  const a = await p.acquire(key, login);
  await p.release(a, { dirty: false });
  fake.compute.endOf(a.socket).destroy();
  await until('the idle watch to see the close', () => !a.alive);
  const b = await p.acquire(key, login);
  assert.notEqual(b, a);
  assert.equal(login.calls, 2);
  assert.deepEqual(p.stats().total, { inUse: 1, idle: 0, waiting: 0, open: 1 });
  // Stray bytes on an idle connection: the stream is out of step, it is not lent either.
  await p.release(b, { dirty: false });
  fake.compute.endOf(b.socket).write('x');
  await until('the idle watch to see the byte', () => !b.alive);
  const c = await p.acquire(key, login);
  assert.notEqual(c, b);
  await p.release(c, { dirty: false });
});

test('a connection idle past pingAfterIdleMs is pinged before it is lent', async () => {
  const checks = new ScriptedChecks();
  const p = pools(checks, { pingAfterIdleMs: 20 });
  const key = fake.compute.key();
  const login = fake.compute.login();
  const a = await p.acquire(key, login);
  await p.release(a, { dirty: false });
  assert.equal(await p.acquire(key, login), a);
  assert.equal(checks.pings, 0, 'fresh enough');
  await p.release(a, { dirty: false });
  await delay(30);
  assert.equal(await p.acquire(key, login), a);
  assert.equal(checks.pings, 1);
  await p.release(a, { dirty: false });
  await delay(30);
  checks.pingAnswer = { ok: false, reason: 'COM_PING timed out' };
  const b = await p.acquire(key, login);
  assert.notEqual(b, a);
  assert.equal(closedByPool(a.socket), true);
  assert.equal(login.calls, 2);
  await p.release(b, { dirty: false });
});

test('a ping that gets no answer at all fails the borrow: the compute is frozen or wedged', async () => {
  const checks = new ScriptedChecks();
  const p = pools(checks, { pingAfterIdleMs: 0 });
  const key = fake.compute.key();
  const login = fake.compute.login();
  const a = await p.acquire(key, login);
  await p.release(a, { dirty: false });
  checks.pingAnswer = { ok: false, reason: 'backend sent no command reply within 2000 ms', timedOut: true };
  await assert.rejects(p.acquire(key, login), (err: unknown) => err instanceof ComputeUnresponsiveError && /did not answer a ping within 2000 ms/.test(err.message));
  assert.equal(closedByPool(a.socket), true);
  assert.equal(login.calls, 1, 'no new login on a compute that does not answer');
  assert.deepEqual(p.stats().total, { inUse: 0, idle: 0, waiting: 0, open: 0 });
});

test('connections used within the last second are lent without a ping by default', async () => {
  const checks = new ScriptedChecks();
  const p = pools(checks);
  const key = fake.compute.key();
  const login = fake.compute.login();
  const a = await p.acquire(key, login);
  await p.release(a, { dirty: false });
  assert.equal(await p.acquire(key, login), a);
  assert.equal(checks.pings, 0);
  await p.release(a, { dirty: false });
  await delay(1_100);
  assert.equal(await p.acquire(key, login), a);
  assert.equal(checks.pings, 1);
  await p.release(a, { dirty: false });
});

test('a borrower that aborts during the ping leaves the connection in the pool', async () => {
  const checks = new ScriptedChecks();
  const p = pools(checks, { pingAfterIdleMs: 0 });
  const key = fake.compute.key();
  const a = await p.acquire(key, fake.compute.login());
  await p.release(a, { dirty: false });
  let answer!: () => void;
  checks.pingGate = new Promise<void>((resolve) => (answer = resolve));
  const ac = new AbortController();
  const borrowing = p.acquire(key, fake.compute.login(), ac.signal);
  await settle();
  assert.deepEqual(p.stats().total, { inUse: 1, idle: 0, waiting: 0, open: 1 }, 'out of the idle list while pinged');
  ac.abort(new Error('client went away'));
  answer();
  await assert.rejects(borrowing, /client went away/);
  assert.deepEqual(p.stats().total, { inUse: 0, idle: 1, waiting: 0, open: 1 });
  assert.equal(closedByPool(a.socket), false);
});

test('a failing baseline check closes the new connection and frees its slot', async () => {
  const checks = new ScriptedChecks();
  const p = pools(checks, { maxPerCompute: 1 });
  checks.baselineFailure = new Error('unexpected reply to the baseline query');
  await assert.rejects(p.acquire(fake.compute.key(), fake.compute.login()), /baseline/);
  assert.deepEqual(p.stats().total, { inUse: 0, idle: 0, waiting: 0, open: 0 });
  checks.baselineFailure = null;
  const a = await p.acquire(fake.compute.key(), fake.compute.login());
  await p.release(a, { dirty: false });
});

test('the janitor closes connections idle too long and forgets what is empty', async () => {
  const p = pools(new ScriptedChecks(), { idleTimeoutMs: 60, evictionIntervalMs: 10 });
  const key = fake.compute.key();
  const [a, b] = await Promise.all([p.acquire(key, fake.compute.login()), p.acquire(key, fake.compute.login())]);
  const ports = [a.socket.localPort!, b.socket.localPort!];
  await p.release(a, { dirty: false });
  await delay(40);
  await p.release(b, { dirty: false });
  await until('the older one to be closed', () => closedByPool(a.socket));
  assert.equal(closedByPool(b.socket), false, 'the newer one is not idle long enough yet');
  assert.deepEqual(p.stats().total, { inUse: 0, idle: 1, waiting: 0, open: 1 });
  await until('the newer one to be closed', () => closedByPool(b.socket));
  await until('the compute to be forgotten', () => Object.keys(p.stats().computes).length === 0);
  // Each said goodbye (COM_QUIT) before its end, and the compute's close finished it.
  await until('both to be closed by the compute', () => a.socket.destroyed && b.socket.destroyed);
  assert.ok(ports.every((port) => fake.compute.quits.has(port)));
});

test('a dropped compute fails its waiters at once, closes idle connections and what comes back', async () => {
  const p = pools(new ScriptedChecks(), { maxPerCompute: 2, acquireTimeoutMs: 5_000 });
  const key = fake.compute.key();
  const login = fake.compute.login();
  const a = await p.acquire(key, login);
  let finishLogin!: () => void;
  const loggingIn = p.acquire(fake.compute.key({ database: 'other' }), fake.compute.login({ gate: new Promise<void>((resolve) => (finishLogin = resolve)) }));
  const waiting = p.acquire(fake.compute.key({ database: 'third' }), login);
  await settle();
  assert.deepEqual(p.stats().total, { inUse: 2, idle: 0, waiting: 1, open: 2 });

  await p.dropCompute(key.addr);
  await assert.rejects(waiting, (err: Error) => err instanceof ComputeDroppedError && /user 'app'/.test(err.message));
  assert.equal(closedByPool(a.socket), false, 'a lent connection stays with its client');
  assert.deepEqual(p.stats().computes, {}, 'a dropped compute is not listed');
  finishLogin();
  await assert.rejects(loggingIn, ComputeDroppedError);
  await p.release(a, { dirty: false });
  assert.equal(closedByPool(a.socket), true, 'closed when it comes back');

  // Awake again: a fresh pool for the same address, whose idle connection the next drop closes.
  const d = await p.acquire(key, login);
  assert.equal(d.borrows, 1);
  await p.release(d, { dirty: false });
  assert.deepEqual(p.stats().total, { inUse: 0, idle: 1, waiting: 0, open: 1 });
  await p.dropCompute(key.addr);
  assert.equal(closedByPool(d.socket), true);
  assert.deepEqual(p.stats().total, { inUse: 0, idle: 0, waiting: 0, open: 0 });
});

test('a closed pool fails its waiters, closes its connections and lends nothing more', async () => {
  const p = fakePools(new ScriptedChecks(), { maxPerCompute: 1, acquireTimeoutMs: 5_000 });
  const key = fake.compute.key();
  const a = await p.acquire(key, fake.compute.login());
  const waiting = p.acquire(key, fake.compute.login());
  await settle();
  await p.close();
  await assert.rejects(waiting, PoolClosedError);
  await assert.rejects(p.acquire(key, fake.compute.login()), PoolClosedError);
  await p.release(a, { dirty: false });
  assert.equal(closedByPool(a.socket), true);
  assert.deepEqual(p.stats().total, { inUse: 0, idle: 0, waiting: 0, open: 0 });
});
