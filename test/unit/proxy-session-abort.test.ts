// A session's abort: made into an AbortController only when something waits, and the
// same to that waiter whether the client left before or after it began to wait.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SessionAbort } from '../../proxy/session-context.js';

test('a client that leaves aborts a wait that began before, and one that begins after', () => {
  const before = new SessionAbort();
  const signal = before.signal;
  assert.equal(signal.aborted, false);
  before.clientGone();
  assert.equal(signal.aborted, true);
  assert.match((signal.reason as Error).message, /client went away/);

  const after = new SessionAbort();
  after.clientGone();
  assert.equal(after.aborted, true);
  assert.equal(after.signal.aborted, true, 'a signal asked for later is aborted already');
  assert.match((after.signal.reason as Error).message, /client went away/);
});

test('the first reason stands; an inert abort (a relaying session) never aborts', () => {
  const a = new SessionAbort();
  const shutdown = new Error('shutting down');
  a.abort(shutdown);
  a.clientGone();
  assert.equal(a.signal.reason, shutdown);

  const inert = new SessionAbort(true);
  inert.abort(shutdown);
  inert.clientGone();
  assert.equal(inert.aborted, false);
  assert.equal(inert.signal.aborted, false);
});

test('as an AbortWatch, with no signal made: listeners hear the abort once, with the same reason a signal gets', () => {
  const a = new SessionAbort();
  const heard: unknown[] = [];
  const first = () => heard.push(['first', a.reason]);
  const removed = () => heard.push('removed');
  a.addEventListener('abort', first, { once: true });
  a.addEventListener('abort', removed);
  a.removeEventListener('abort', removed);
  assert.equal(a.reason, undefined);
  a.clientGone();
  a.clientGone();
  assert.equal(heard.length, 1);
  const [, reason] = heard[0] as [string, Error];
  assert.match(reason.message, /client went away/);
  assert.equal(a.signal.reason, reason, 'a signal made afterwards carries the same reason');
  a.addEventListener('abort', () => heard.push('late'));
  assert.equal(heard.length, 1, 'a listener added after the abort is not called (check aborted first, as with AbortSignal)');

  const b = new SessionAbort();
  const waiter = { calls: 0, handleEvent() { this.calls++; } };
  b.addEventListener('abort', waiter);
  const signal = b.signal;
  const shutdown = new Error('shutting down');
  b.addEventListener('abort', () => heard.push(b.reason));
  b.abort(shutdown);
  assert.equal(signal.reason, shutdown);
  assert.equal(heard[1], shutdown, 'a signal made before and a listener both hear it');
  assert.equal(waiter.calls, 1, 'an object listener (a pool waiter) is called through handleEvent');
});
