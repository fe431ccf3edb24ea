// How the pool grows with a grow delay (transaction pooling, pool/pool-growth.ts): a
// borrower whose key's connections are all lent waits for one to come back, and the
// compute opens another only for waiting that lasts, at most one per delay. Real clock,
// small delays: what must not happen early is checked by when logins started, not by
// counting them after a sleep of the test's own (late on a busy machine); what must
// happen is waited for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ComputeDroppedError, PoolTimeoutError, type BackendPools } from '../../pool/backend-pool.js';
import type { BackendKey } from '../../backend/login.js';
import type { PooledBackend } from '../../pool/pooled-backend.js';
import { ScriptedChecks, closedByPool, delay, fakeComputeSuite, settle, type FakeCompute } from '../helpers/fake-logins.js';

const fake = fakeComputeSuite();
const { pools } = fake;

/** A login that records when each call started (performance.now()). */
function timedLogin(opts: Parameters<FakeCompute['login']>[0] = {}) {
  const inner = fake.compute.login(opts);
  const starts: number[] = [];
  return Object.assign((...args: Parameters<typeof inner>) => {
    starts.push(performance.now());
    return inner(...args);
  }, { starts });
}

/** Borrowers that each take a connection, hold it `holdMs` (0: a turn of the event loop), give it back and come again, until stopped. */
function churn(p: BackendPools, key: BackendKey, login: ReturnType<typeof timedLogin>, borrowers: number, holdMs: number) {
  let running = true;
  let borrows = 0;
  const loops = Array.from({ length: borrowers }, async () => {
    while (running) {
      const b = await p.acquire(key, login);
      borrows++;
      await (holdMs > 0 ? delay(holdMs) : settle());
      await p.release(b, { dirty: false });
    }
  });
  return {
    get borrows() {
      return borrows;
    },
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

test('a cold pool opens at once, and so does the first connection of another key while others wait', async () => {
  const p = pools(new ScriptedChecks(), { maxPerCompute: 10, growDelayMs: 10_000 });
  const login = timedLogin();
  const t0 = performance.now();
  const a = await p.acquire(fake.compute.key(), login);
  assert.ok(performance.now() - t0 < 5_000, 'no grow delay for the first connection');
  const waiting = p.acquire(fake.compute.key(), login);
  await settle();
  assert.equal(p.stats().total.waiting, 1, 'its key has a connection lent: the next borrower waits');
  const other = await p.acquire(fake.compute.key({ database: 'other' }), login);
  assert.equal(login.starts.length, 2, "a key with nothing lent logs in at once, past the other key's waiter");
  await p.release(other, { dirty: false });
  assert.equal(closedByPool(other.socket), false, 'under the limit, not closed to make room for a waiter of another key');
  await p.release(a, { dirty: false });
  assert.equal(await waiting, a);
  assert.deepEqual(p.stats().total, { inUse: 1, idle: 1, waiting: 0, open: 2 });
  await p.release(a, { dirty: false });
});

test('a connection given back within the delay goes to the waiter, and nothing grows', async () => {
  const p = pools(new ScriptedChecks(), { maxPerCompute: 10, growDelayMs: 80 });
  const key = fake.compute.key();
  const login = timedLogin();
  const a = await p.acquire(key, login);
  const waiting = p.acquire(key, login);
  await delay(10);
  await p.release(a, { dirty: false });
  assert.equal(await waiting, a);
  await delay(150);
  assert.equal(login.starts.length, 1, 'the check found nobody waiting');
  assert.deepEqual(p.stats().total, { inUse: 1, idle: 0, waiting: 0, open: 1 });
  await p.release(a, { dirty: false });
});

test('the grow delay is honoured: borrowers that keep waiting for a busy connection get another after it', async () => {
  const p = pools(new ScriptedChecks(), { maxPerCompute: 10, growDelayMs: 60 });
  const key = fake.compute.key();
  const login = timedLogin();
  await p.release(await p.acquire(key, login), { dirty: false });
  const t0 = performance.now();
  // Two borrowers on one connection: every borrow waits about a hold.
  const load = churn(p, key, login, 2, 3);
  try {
    while (login.starts.length < 2) await delay(5);
  } finally {
    await load.stop();
  }
  assert.ok(login.starts[1]! - t0 >= 59, `grew after ${(login.starts[1]! - t0).toFixed(1)} ms, before the 60 ms delay`);
  assert.ok(login.starts[1]! - t0 < 2_000, 'and soon after it');
});

test('borrowers that keep their connections get new ones after eight delays, then one a delay', async () => {
  const p = pools(new ScriptedChecks(), { maxPerCompute: 20, growDelayMs: 15, acquireTimeoutMs: 10_000 });
  const key = fake.compute.key();
  const login = timedLogin();
  const held: PooledBackend[] = [await p.acquire(key, login)];
  const t0 = performance.now();
  // Nothing comes back: a stall or clients in long transactions, which only a longer wait tells apart.
  const waiting = Array.from({ length: 6 }, () => p.acquire(key, login).then((b) => (held.push(b), b)));
  await Promise.all(waiting);
  const grew = login.starts.slice(1);
  assert.equal(grew.length, 6, 'every borrower got a connection of its own');
  assert.ok(grew[0]! - t0 >= 119, `first growth after ${(grew[0]! - t0).toFixed(1)} ms: not within eight 15 ms delays while nothing comes back`);
  for (let i = 1; i < grew.length; i++) {
    assert.ok(grew[i]! - grew[i - 1]! >= 10, `growths ${(grew[i]! - grew[i - 1]!).toFixed(1)} ms apart, well under the 15 ms delay`);
  }
  assert.ok(grew.at(-1)! - grew[0]! >= 15 * (grew.length - 1), 'one growth a delay at most');
  assert.deepEqual(p.stats().total, { inUse: 7, idle: 0, waiting: 0, open: 7 });
  for (const b of held) await p.release(b, { dirty: false });
});

test('sustained demand grows the pool, one connection a delay at most, until borrows stop waiting', async () => {
  const p = pools(new ScriptedChecks(), { maxPerCompute: 20, growDelayMs: 15, acquireTimeoutMs: 10_000 });
  const key = fake.compute.key();
  const login = timedLogin();
  await p.release(await p.acquire(key, login), { dirty: false });
  // Six borrowers that come back at once: every connection short of six keeps one waiting.
  const load = churn(p, key, login, 6, 2);
  let grown: number;
  let borrowed: number;
  try {
    const until = performance.now() + 5_000;
    while (p.stats().total.open < 6 && performance.now() < until) await delay(10);
    grown = p.stats().total.open;
    await delay(100);
    const borrowsBefore = load.borrows;
    await delay(200);
    borrowed = load.borrows - borrowsBefore;
  } finally {
    await load.stop();
  }
  assert.equal(grown, 6, 'grew to the six borrowers');
  assert.equal(p.stats().total.open, 6, 'and no further');
  assert.ok(borrowed > 0);
  // Growths are a delay apart at least; the logins they start may be a little less, one started late.
  const grew = login.starts.slice(1);
  for (let i = 1; i < grew.length; i++) {
    assert.ok(grew[i]! - grew[i - 1]! >= 10, `growths ${(grew[i]! - grew[i - 1]!).toFixed(1)} ms apart, well under the 15 ms delay`);
  }
  assert.ok(grew.at(-1)! - grew[0]! >= 15 * (grew.length - 1), 'one growth a delay at most');
});

test('a waiter among busy keys: no growth while waits are rare, but it waits eight delays at most', async () => {
  const p = pools(new ScriptedChecks(), { maxPerCompute: 20, growDelayMs: 100, acquireTimeoutMs: 10_000 });
  const quiet = fake.compute.key({ database: 'quiet' });
  const login = timedLogin();
  // Six borrowers of keys of their own give their connections back every turn of the event loop, never waiting.
  const loads = [1, 2, 3, 4, 5, 6].map((i) => churn(p, fake.compute.key({ database: `busy${i}` }), login, 1, 0));
  const load = { stop: () => Promise.all(loads.map((l) => l.stop())) };
  try {
    const held = await p.acquire(quiet, login);
    const logins = login.starts.length;
    const t0 = performance.now();
    const b = await p.acquire(quiet, login);
    assert.notEqual(b, held);
    // One wait among many returns is no reason to grow, until it has lasted eight delays.
    assert.ok(login.starts[logins]! - t0 >= 799, `grew after ${(login.starts[logins]! - t0).toFixed(1)} ms, before eight 100 ms delays`);
    await p.release(held, { dirty: false });
    await p.release(b, { dirty: false });
  } finally {
    await load.stop();
  }
});

test('no growth while a login is in flight: a slow compute gets one login at a time', async () => {
  const p = pools(new ScriptedChecks(), { maxPerCompute: 10, growDelayMs: 5, acquireTimeoutMs: 10_000 });
  const key = fake.compute.key();
  const a = await p.acquire(key, timedLogin());
  let open!: () => void;
  const slow = timedLogin({ gate: new Promise<void>((resolve) => (open = resolve)) });
  const waiting = [p.acquire(key, slow), p.acquire(key, slow), p.acquire(key, slow)];
  while (slow.starts.length < 1) await delay(5);
  await delay(100);
  assert.equal(slow.starts.length, 1, 'one growth login, held; no other growth meanwhile');
  open();
  const got = await Promise.all(waiting);
  assert.equal(slow.starts.length, 3);
  for (const b of [a, ...got]) await p.release(b, { dirty: false });
});

test('a waiter that times out or aborts leaves, and nothing grows for it', async () => {
  const p = pools(new ScriptedChecks(), { maxPerCompute: 10, growDelayMs: 10, acquireTimeoutMs: 30 });
  const key = fake.compute.key();
  const login = timedLogin();
  const a = await p.acquire(key, login);
  const t0 = performance.now();
  await assert.rejects(p.acquire(key, login), (err: Error) => {
    assert.ok(err instanceof PoolTimeoutError, String(err));
    return true;
  });
  assert.ok(performance.now() - t0 < 2_000, '--pool-acquire-timeout bounds the wait');
  const ac = new AbortController();
  const aborted = p.acquire(key, login, ac.signal);
  await settle();
  ac.abort(new Error('client went away'));
  await assert.rejects(aborted, /client went away/);
  assert.equal(p.stats().total.waiting, 0);
  await delay(200);
  assert.equal(login.starts.length, 1, 'no connection opened for borrowers that left');
  assert.deepEqual(p.stats().total, { inUse: 1, idle: 0, waiting: 0, open: 1 });
  await p.release(a, { dirty: false });
});

test('a compute dropped while borrowers wait fails them, and opens nothing after', async () => {
  const p = pools(new ScriptedChecks(), { maxPerCompute: 10, growDelayMs: 10 });
  const key = fake.compute.key();
  const login = timedLogin();
  const a = await p.acquire(key, login);
  const waiting = p.acquire(key, login);
  await settle();
  await p.dropCompute(key.addr);
  await assert.rejects(waiting, (err: Error) => err instanceof ComputeDroppedError);
  await delay(150);
  assert.equal(login.starts.length, 1);
  await p.release(a, { dirty: false });
  assert.equal(closedByPool(a.socket), true, 'lent when its compute was dropped: closed on return');
});

test("at the limit, growth takes the slot of another key's idle connection", async () => {
  const p = pools(new ScriptedChecks(), { maxPerCompute: 2, growDelayMs: 5 });
  const key = fake.compute.key();
  const login = timedLogin();
  const a = await p.acquire(key, login);
  const other = await p.acquire(fake.compute.key({ database: 'other' }), login);
  await p.release(other, { dirty: false });
  const b = await p.acquire(key, login);
  assert.equal(closedByPool(other.socket), true, 'the idle connection of the other key made room');
  assert.deepEqual(p.stats().total, { inUse: 2, idle: 0, waiting: 0, open: 2 });
  await p.release(a, { dirty: false });
  await p.release(b, { dirty: false });
});

test('without a grow delay (session pooling) a borrower opens a connection at once, as before', async () => {
  const p = pools(new ScriptedChecks(), { maxPerCompute: 10 });
  const key = fake.compute.key();
  const login = timedLogin();
  const a = await p.acquire(key, login);
  const b = await p.acquire(key, login);
  assert.equal(login.starts.length, 2);
  assert.equal(p.stats().total.waiting, 0);
  await p.release(a, { dirty: false });
  await p.release(b, { dirty: false });
});
