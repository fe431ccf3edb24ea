// The address cache every resolver keeps: one fetch however many callers, each
// caller free to give up alone, an invalidate that drops only the address that
// failed, and a TTL read on a mocked clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AddressCache } from '../../control-client/address-cache.js';
import type { BackendAddress } from '../../backend/address.js';
import { later } from '../helpers/later.js';

const A: BackendAddress = { host: '10.0.0.1', port: 3306 };
const B: BackendAddress = { host: '10.0.0.2', port: 3306 };
const live = () => new AbortController().signal;

/** A fetch that counts its calls and answers from a list, one answer per call. */
function scriptedFetch(...answers: Array<BackendAddress | Promise<BackendAddress>>) {
  const f = () => {
    f.calls++;
    const next = answers.shift();
    return next === undefined ? Promise.reject(new Error(`unscripted fetch #${f.calls}`)) : Promise.resolve(next);
  };
  f.calls = 0;
  return f;
}

test('single flight: 50 callers at once make one fetch and all get its answer', async () => {
  const cache = new AddressCache(60_000);
  const answer = later<BackendAddress>();
  const fetch = scriptedFetch(answer.promise);
  const callers = Array.from({ length: 50 }, () => cache.get('shop', live(), fetch));
  assert.equal(fetch.calls, 1);
  answer.resolve(A);
  for (const addr of await Promise.all(callers)) assert.equal(addr, A);
  // Cached now: the next caller does not fetch.
  assert.equal(await cache.get('shop', live(), fetch), A);
  assert.equal(fetch.calls, 1);
});

test('one impatient caller gives up alone: the fetch runs on, the others get it, and it is cached', async () => {
  const cache = new AddressCache(60_000);
  const answer = later<BackendAddress>();
  const fetch = scriptedFetch(answer.promise);
  const impatient = new AbortController();
  const gaveUp = cache.get('shop', impatient.signal, fetch);
  const patient = cache.get('shop', live(), fetch);
  const reason = new Error('client went away');
  impatient.abort(reason);
  await assert.rejects(gaveUp, (err: unknown) => err === reason);
  answer.resolve(A);
  assert.equal(await patient, A);
  assert.equal(fetch.calls, 1);
  assert.ok(cache.has('shop'));
});

test('a failed fetch fails every caller of it and is not cached: the next caller fetches again', async () => {
  const cache = new AddressCache(60_000);
  const answer = later<BackendAddress>();
  const fetch = scriptedFetch(answer.promise, B);
  const callers = [cache.get('shop', live(), fetch), cache.get('shop', live(), fetch)];
  answer.reject(new Error('compute failed to start'));
  for (const c of callers) await assert.rejects(c, /compute failed to start/);
  assert.equal(cache.has('shop'), false);
  assert.equal(await cache.get('shop', live(), fetch), B);
  assert.equal(fetch.calls, 2);
});

test('invalidate drops only the address that failed: a newer address and other projects stay', async () => {
  const cache = new AddressCache(60_000);
  await cache.get('shop', live(), scriptedFetch(B));
  await cache.get('blog', live(), scriptedFetch(A));
  // A client that connected to the old address A reports it: shop has moved on to B.
  cache.invalidate('shop', A);
  assert.ok(cache.has('shop'));
  cache.invalidate('shop', { host: B.host, port: 3307 });
  assert.ok(cache.has('shop'), 'same host, other port: another address');
  cache.invalidate('shop', B);
  assert.equal(cache.has('shop'), false);
  assert.ok(cache.has('blog'));
  // Without an address, whatever is cached goes.
  cache.invalidate('blog');
  assert.equal(cache.has('blog'), false);
  // Nothing cached: nothing to do.
  cache.invalidate('nosuch', A);
});

test('an address is trusted for the TTL and fetched again once it expires', async (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
  const cache = new AddressCache(5_000);
  const fetch = scriptedFetch(A, B);
  assert.equal(await cache.get('shop', live(), fetch), A);
  t.mock.timers.tick(4_999);
  assert.ok(cache.has('shop'));
  assert.equal(await cache.get('shop', live(), fetch), A);
  assert.equal(fetch.calls, 1);
  t.mock.timers.tick(1);
  assert.equal(cache.has('shop'), false, 'expired at exactly the TTL');
  assert.equal(await cache.get('shop', live(), fetch), B);
  assert.equal(fetch.calls, 2);
});

test('a TTL of 0 caches nothing: every resolve asks again (but concurrent ones still share)', async () => {
  const cache = new AddressCache(0);
  const answer = later<BackendAddress>();
  const fetch = scriptedFetch(answer.promise, B);
  const both = [cache.get('shop', live(), fetch), cache.get('shop', live(), fetch)];
  answer.resolve(A);
  await Promise.all(both);
  assert.equal(fetch.calls, 1);
  assert.equal(await cache.get('shop', live(), fetch), B);
  assert.equal(fetch.calls, 2);
});

test('clear forgets every address', async () => {
  const cache = new AddressCache(60_000);
  await cache.get('shop', live(), scriptedFetch(A));
  cache.clear();
  assert.equal(cache.has('shop'), false);
});

test('peek: the address get() would hand back at once, none while a fetch is pending or once it expired or failed', async (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: 1_000 });
  const cache = new AddressCache(5_000);
  assert.equal(cache.peek('shop'), undefined);
  const answer = later<BackendAddress>();
  const pending = cache.get('shop', live(), scriptedFetch(answer.promise));
  assert.equal(cache.peek('shop'), undefined, 'a wake in flight is not an answer');
  answer.resolve(A);
  await pending;
  assert.equal(cache.peek('shop'), A);
  cache.invalidate('shop', A);
  assert.equal(cache.peek('shop'), undefined, 'a failed connect drops it');
  await cache.get('shop', live(), scriptedFetch(B));
  assert.equal(cache.peek('shop'), B);
  t.mock.timers.tick(5_001);
  assert.equal(cache.peek('shop'), undefined, 'expired');
});
