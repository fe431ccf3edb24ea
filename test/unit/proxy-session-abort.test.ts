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
