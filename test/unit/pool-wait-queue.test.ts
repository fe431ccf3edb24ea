// The pool's queue of borrowers: arrival order, serving by tag, and leaving without a trace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WaitQueue } from '../../pool/wait-queue.js';

const live = () => new AbortController().signal;
const timeouts = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

test('waiters are served in arrival order, or the first of a tag', async () => {
  const q = new WaitQueue<string, number>();
  const late = () => new Error('late');
  const a1 = q.wait('a', 1_000, live(), late);
  const b1 = q.wait('b', 1_000, live(), late);
  const a2 = q.wait('a', 1_000, live(), late);
  assert.equal(q.serveFirstOf('b', 1), true);
  assert.equal(q.serveFirstOf('c', 2), false);
  assert.equal(q.serveFirst(3), true);
  assert.equal(q.serveFirst(4), true);
  assert.equal(q.serveFirst(5), false);
  assert.deepEqual(await Promise.all([a1, b1, a2]), [3, 1, 4]);
  assert.equal(q.size, 0);
});

test('a waiter leaves on timeout, on abort, or when all fail, and takes its timer with it', async () => {
  const q = new WaitQueue<string, number>();
  const before = timeouts();
  await assert.rejects(q.wait('a', 10, live(), () => new Error('no connection in time')), /no connection in time/);
  const ac = new AbortController();
  const aborted = q.wait('a', 5_000, ac.signal, () => new Error('late'));
  assert.equal(timeouts(), before + 1);
  ac.abort(new Error('client went away'));
  await assert.rejects(aborted, /client went away/);
  await assert.rejects(q.wait('a', 5_000, AbortSignal.abort(new Error('gone')), () => new Error('late')), /gone/);
  const failing = [q.wait('a', 5_000, live(), () => new Error('late')), q.wait('b', 5_000, live(), () => new Error('late'))];
  q.failAll((tag) => new Error(`compute suspended (${tag})`));
  await assert.rejects(failing[0]!, /compute suspended \(a\)/);
  await assert.rejects(failing[1]!, /compute suspended \(b\)/);
  assert.equal(q.size, 0);
  assert.equal(timeouts(), before);
  assert.equal(q.serveFirst(1), false, 'nobody left to serve');
});
