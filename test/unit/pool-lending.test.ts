// The pool's lending rules without mariadbd: idle order, the per-compute limit across
// keys, waiters, timeouts, aborts and failing logins. Logins are loopback socket pairs
// (test/helpers/fake-logins.ts); the real login and reset are tested in integration.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PoolTimeoutError } from '../../pool/backend-pool.js';
import type { PooledBackend } from '../../pool/pooled-backend.js';
import { ScriptedChecks, closedByPool, delay, fakeComputeSuite, settle } from '../helpers/fake-logins.js';

const fake = fakeComputeSuite();
const { pools } = fake;

test('the connection returned last is lent first, and statistics follow the lists', async () => {
  const p = pools(new ScriptedChecks(), { maxPerCompute: 3 });
  const key = fake.compute.key();
  const login = fake.compute.login();
  const [a, b, c] = await Promise.all([p.acquire(key, login), p.acquire(key, login), p.acquire(key, login)]);
  assert.equal(login.calls, 3);
  assert.deepEqual(p.stats().total, { inUse: 3, idle: 0, waiting: 0, open: 3 });
  await p.release(a!, { dirty: false });
  await p.release(c!, { dirty: false });
  await p.release(b!, { dirty: false });
  assert.deepEqual(p.stats().total, { inUse: 0, idle: 3, waiting: 0, open: 3 });
  assert.deepEqual(Object.keys(p.stats().computes), [`127.0.0.1:${fake.compute.port}`]);
  const first = await p.acquire(key, login);
  const second = await p.acquire(key, login);
  assert.equal(first, b, 'most recently returned');
  assert.equal(second, c);
  assert.equal(first.borrows, 2);
  assert.equal(first.socket.isPaused(), true, 'handed out paused');
  assert.equal(login.calls, 3, 'no new login');
  assert.deepEqual(p.stats().total, { inUse: 2, idle: 1, waiting: 0, open: 3 });
  await p.release(first, { dirty: false });
  await p.release(second, { dirty: false });
});

test('keys do not share connections: another database, user or capability set logs in anew', async () => {
  const p = pools(new ScriptedChecks(), { maxPerCompute: 4 });
  const login = fake.compute.login();
  const a = await p.acquire(fake.compute.key(), login);
  await p.release(a, { dirty: false });
  for (const over of [{ database: 'shop' }, { user: 'other' }, { capabilities: 0x201 }]) {
    const b = await p.acquire(fake.compute.key(over), login);
    assert.notEqual(b, a);
    await p.release(b, { dirty: false });
  }
  assert.equal(login.calls, 4);
});

test('a borrower at the limit waits and gets the connection given back, without a login', async () => {
  const p = pools(new ScriptedChecks(), { maxPerCompute: 1 });
  const key = fake.compute.key();
  const login = fake.compute.login();
  const a = await p.acquire(key, login);
  const waiting = p.acquire(key, login);
  await settle();
  assert.deepEqual(p.stats().total, { inUse: 1, idle: 0, waiting: 1, open: 1 });
  await p.release(a, { dirty: false });
  assert.equal(await waiting, a);
  assert.equal(login.calls, 1);
  assert.deepEqual(p.stats().total, { inUse: 1, idle: 0, waiting: 0, open: 1 });
  await p.release(a, { dirty: false });
});

test('the limit holds across keys: a slot freed goes to the first waiter, whatever its key', async () => {
  const p = pools(new ScriptedChecks(), { maxPerCompute: 1 });
  const shop = fake.compute.key({ database: 'shop' });
  const other = fake.compute.key({ database: 'other' });
  const login = fake.compute.login();
  const a = await p.acquire(shop, login);
  const order: string[] = [];
  const served = (name: string) => (b: PooledBackend) => {
    order.push(name);
    return b;
  };
  const forOther = p.acquire(other, login).then(served('other'));
  const forShop = p.acquire(shop, login).then(served('shop'));
  await settle();
  assert.equal(p.stats().total.waiting, 2);
  // A dirty return frees the slot: the first waiter (other) logs in on it.
  await p.release(a, { dirty: true });
  const b = await forOther;
  assert.equal(b.key.database, 'other');
  assert.equal(closedByPool(a.socket), true);
  // A clean return of key `other` with only a `shop` waiter left: closed to make a slot.
  await p.release(b, { dirty: false });
  const c = await forShop;
  assert.deepEqual(order, ['other', 'shop']);
  assert.equal(closedByPool(b.socket), true);
  assert.equal(c.key.database, 'shop');
  assert.deepEqual(p.stats().total, { inUse: 1, idle: 0, waiting: 0, open: 1 });
  await p.release(c, { dirty: false });
});

test('a new key at the limit closes the connection idle longest of another key', async () => {
  const p = pools(new ScriptedChecks(), { maxPerCompute: 2 });
  const login = fake.compute.login();
  const a = await p.acquire(fake.compute.key({ database: 'a' }), login);
  const b = await p.acquire(fake.compute.key({ database: 'b' }), login);
  await p.release(a, { dirty: false });
  await delay(5);
  await p.release(b, { dirty: false });
  const c = await p.acquire(fake.compute.key({ database: 'c' }), login);
  assert.equal(closedByPool(a.socket), true, 'the one idle longest');
  assert.equal(closedByPool(b.socket), false);
  assert.deepEqual(p.stats().total, { inUse: 1, idle: 1, waiting: 0, open: 2 });
  await p.release(c, { dirty: false });
});

test('a wait has a deadline, and its error names the user, the compute and the limit', async () => {
  const p = pools(new ScriptedChecks(), { maxPerCompute: 1, acquireTimeoutMs: 50 });
  const key = fake.compute.key();
  const a = await p.acquire(key, fake.compute.login());
  const started = Date.now();
  await assert.rejects(p.acquire(key, fake.compute.login()), (err: Error) => {
    assert.ok(err instanceof PoolTimeoutError);
    assert.match(err.message, /^no backend connection for user 'app' on compute c-fake \(127\.0\.0\.1:\d+\) within 50 ms: 1 of 1 allowed connections open$/);
    return true;
  });
  assert.ok(Date.now() - started < 1_000);
  assert.equal(p.stats().total.waiting, 0);
  await p.release(a, { dirty: false });
  assert.deepEqual(p.stats().total, { inUse: 0, idle: 1, waiting: 0, open: 1 });
});

test('a borrower that aborts stops waiting at once and leaves nothing behind', async () => {
  const p = pools(new ScriptedChecks(), { maxPerCompute: 1, acquireTimeoutMs: 5_000 });
  const key = fake.compute.key();
  const login = fake.compute.login();
  const a = await p.acquire(key, login);
  const ac = new AbortController();
  const waiting = p.acquire(key, login, ac.signal);
  await settle();
  ac.abort(new Error('client went away'));
  await assert.rejects(waiting, /client went away/);
  assert.equal(p.stats().total.waiting, 0);
  await p.release(a, { dirty: false });
  assert.deepEqual(p.stats().total, { inUse: 0, idle: 1, waiting: 0, open: 1 }, 'the return went idle, not to the gone waiter');
  // Already aborted: refused before anything is taken.
  await assert.rejects(p.acquire(key, login, AbortSignal.abort(new Error('gone'))), /gone/);
  assert.equal(login.calls, 1);
});

test('a borrower that aborts during its login frees the slot for the next waiter', async () => {
  const p = pools(new ScriptedChecks(), { maxPerCompute: 1 });
  const key = fake.compute.key();
  let open!: () => void;
  const slow = fake.compute.login({ gate: new Promise<void>((resolve) => (open = resolve)) });
  const ac = new AbortController();
  const first = p.acquire(key, slow, ac.signal);
  const second = p.acquire(key, fake.compute.login());
  await settle();
  assert.deepEqual(p.stats().total, { inUse: 1, idle: 0, waiting: 1, open: 1 });
  ac.abort(new Error('client went away'));
  await assert.rejects(first, /login abandoned/);
  const b = await second;
  assert.deepEqual(p.stats().total, { inUse: 1, idle: 0, waiting: 0, open: 1 });
  open();
  await p.release(b, { dirty: false });
});

test('a failing login reaches the borrower that caused it, once; waiters log in with their own', async () => {
  const p = pools(new ScriptedChecks(), { maxPerCompute: 1 });
  const key = fake.compute.key();
  let open!: () => void;
  const denied = fake.compute.login({ fail: new Error('1045 access denied'), gate: new Promise<void>((resolve) => (open = resolve)) });
  const good = fake.compute.login();
  const failing = p.acquire(key, denied);
  const waiting = p.acquire(key, good);
  await settle();
  open();
  await assert.rejects(failing, /1045 access denied/);
  assert.equal(denied.calls, 1, 'not retried');
  const b = await waiting;
  assert.equal(good.calls, 1);
  await p.release(b, { dirty: false });
  assert.deepEqual(p.stats().total, { inUse: 0, idle: 1, waiting: 0, open: 1 });
});

test('release and destroy act once, on a connection that is on loan', async () => {
  const p = pools(new ScriptedChecks());
  const a = await p.acquire(fake.compute.key(), fake.compute.login());
  await p.release(a, { dirty: false });
  await p.release(a, { dirty: false });
  await p.destroy(a);
  assert.equal(closedByPool(a.socket), false, 'a second release or a destroy of an idle connection is ignored');
  assert.deepEqual(p.stats().total, { inUse: 0, idle: 1, waiting: 0, open: 1 });
  const b = await p.acquire(fake.compute.key(), fake.compute.login());
  await p.destroy(b);
  assert.equal(closedByPool(b.socket), true);
  await p.release(b, { dirty: false });
  assert.deepEqual(p.stats().total, { inUse: 0, idle: 0, waiting: 0, open: 0 });
});
