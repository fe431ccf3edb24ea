import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { TimeoutError, deadline } from '../../util/deadline.js';

test('the signal aborts with a TimeoutError once the time is up', async () => {
  const d = deadline(20);
  const signal = d.signal;
  assert.equal(signal.aborted, false);
  await sleep(60);
  assert.equal(signal.aborted, true);
  assert.ok(signal.reason instanceof TimeoutError);
  assert.equal(d.timedOut, true);
  d.done();
});

test('a signal first read after the time is up is already aborted', async () => {
  const d = deadline(10);
  await sleep(30);
  assert.equal(d.signal.aborted, true);
  assert.equal(d.timedOut, true);
  assert.equal(d.remainingMs(), 0);
});

test('the parent aborting aborts the signal, with its reason, and is not a timeout', () => {
  const parent = new AbortController();
  const d = deadline(10_000, parent.signal);
  const signal = d.signal;
  parent.abort(new Error('client went away'));
  assert.equal(signal.aborted, true);
  assert.equal((signal.reason as Error).message, 'client went away');
  assert.equal(d.timedOut, false);
  d.done();
});

test('a parent aborted before the signal is read aborts it at once', () => {
  const parent = new AbortController();
  parent.abort(new Error('gone'));
  const d = deadline(10_000, parent.signal);
  assert.equal(d.signal.aborted, true);
  assert.equal((d.signal.reason as Error).message, 'gone');
});

test('done() stops the timer and lets go of the parent', async () => {
  const parent = new AbortController();
  const d = deadline(20, parent.signal);
  const signal = d.signal;
  d.done();
  parent.abort(new Error('late'));
  await sleep(50);
  assert.equal(signal.aborted, false);
  assert.equal(d.timedOut, false);
});

test('a wait that ends without reading the signal arms nothing', async () => {
  const d = deadline(10);
  d.done();
  await sleep(30);
  // Read after done(): the wait is over, so it never fires.
  const signal = d.signal;
  await sleep(30);
  assert.equal(signal.aborted, false);
  assert.equal(d.timedOut, false);
});
