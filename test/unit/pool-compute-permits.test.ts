import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ComputePermits, PermitTimeoutError, ReborrowSignal } from '../../pool/compute-permits.js';
import {
  CLIENT_COMPRESS,
  CLIENT_CONNECT_WITH_DB,
  CLIENT_DEPRECATE_EOF,
  CLIENT_PROTOCOL_41,
  CLIENT_SSL,
} from '../../protocol/constants.js';
import { poolCapabilities } from '../../backend/login.js';

const live = () => new AbortController().signal;

test('permits up to max, then waiters in order as permits come back', async () => {
  const p = new ComputePermits(2);
  assert.ok(p.tryTake());
  await p.take(Date.now() + 1_000, live());
  assert.equal(p.tryTake(), false);
  const order: number[] = [];
  const a = p.take(Date.now() + 1_000, live()).then(() => order.push(1));
  const b = p.take(Date.now() + 1_000, live()).then(() => order.push(2));
  assert.equal(p.waiting, 2);
  p.give();
  p.give();
  await Promise.all([a, b]);
  assert.deepEqual(order, [1, 2]);
  assert.equal(p.inUse, 2);
  p.give();
  p.give();
  assert.equal(p.inUse, 0);
});

test('a waiter times out, or stops when its signal aborts, and leaves the queue', async () => {
  const p = new ComputePermits(1);
  p.tryTake();
  await assert.rejects(p.take(Date.now() + 20, live()), PermitTimeoutError);
  const ac = new AbortController();
  const waiting = p.take(Date.now() + 5_000, ac.signal);
  ac.abort(new Error('client went away'));
  await assert.rejects(waiting, /client went away/);
  assert.equal(p.waiting, 0);
  p.give();
  assert.equal(p.inUse, 0);
});

test('rejectAll fails every waiter', async () => {
  const p = new ComputePermits(1);
  p.tryTake();
  const waits = [p.take(Date.now() + 5_000, live()), p.take(Date.now() + 5_000, live())];
  p.rejectAll(new Error('compute suspended'));
  for (const w of waits) await assert.rejects(w, /compute suspended/);
});

test('pool capabilities drop per-hop bits and follow the database', () => {
  const client = CLIENT_PROTOCOL_41 | CLIENT_DEPRECATE_EOF | CLIENT_SSL | CLIENT_COMPRESS | CLIENT_CONNECT_WITH_DB;
  assert.equal(poolCapabilities(client, null), CLIENT_PROTOCOL_41 | CLIENT_DEPRECATE_EOF);
  assert.equal(poolCapabilities(client & ~CLIENT_CONNECT_WITH_DB, 'shop'), CLIENT_PROTOCOL_41 | CLIENT_DEPRECATE_EOF | CLIENT_CONNECT_WITH_DB);
});

test('redirect sends the first waiter of a key off to borrow instead', async () => {
  const p = new ComputePermits(1);
  p.tryTake();
  const other = p.take(Date.now() + 1_000, live(), 'key-b');
  const mine = p.take(Date.now() + 1_000, live(), 'key-a');
  assert.equal(p.redirect('key-a'), true);
  await assert.rejects(mine, ReborrowSignal);
  assert.equal(p.redirect('key-a'), false);
  assert.equal(p.waiting, 1);
  p.give();
  await other;
  assert.equal(p.inUse, 1);
});

test('a newcomer does not overtake a queued waiter', async () => {
  const p = new ComputePermits(1);
  p.tryTake();
  const queued = p.take(Date.now() + 1_000, live());
  p.give();
  await queued;
  assert.equal(p.tryTake(), false);
});
