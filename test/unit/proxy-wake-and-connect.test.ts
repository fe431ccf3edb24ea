// The session's wake step on fakes: a scripted control plane behind the real
// address cache, a scripted connect, real limits and metrics, and a mocked
// clock where the wake bound matters. Each test is a script of what happens
// ("wake, connect fails, invalidate, wake, connect") and what the client gets.
// The same behaviour end to end, with mariadbd: test/integration/proxy-wake,
// proxy-errors and proxy-limits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProjectNotFoundError, WakeError, type WakeFailure } from '../../control-client/errors.js';
import { ClientError, accessDenied } from '../../proxy/client-error.js';
import { wakeAndConnect } from '../../proxy/wake-and-connect.js';
import {
  ADDR_A,
  ADDR_B,
  ComputeRefusedError,
  FakeResolver,
  NEVER,
  ScriptedControlPlane,
  ScriptedOpener,
  clientsWaiting,
  fakeWakeContext,
  later,
  phaseCount,
  route,
  settle,
  wakeOutcomes,
} from '../helpers/wake-fakes.js';
import type { BackendAddress } from '../../backend/address.js';

const SHOP = route('shop');

/** The ClientError a failed wakeAndConnect rejects with (fails the test if it is anything else). */
async function clientErrorOf(p: Promise<unknown>): Promise<ClientError> {
  const err = await p.then(
    () => assert.fail('expected a rejection'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ClientError, `expected a ClientError, got ${String(err)}`);
  return err;
}

test('wake, connect: one wake, one connect, the phases timed, no one left waiting', async () => {
  const cp = new ScriptedControlPlane(ADDR_A);
  const ctx = fakeWakeContext(new FakeResolver(cp));
  const opener = new ScriptedOpener('ok');
  const conn = await wakeAndConnect(ctx, SHOP, opener);
  assert.deepEqual(conn.addr, ADDR_A);
  assert.deepEqual(cp.wakes, ['shop']);
  assert.deepEqual(opener.opened, [ADDR_A]);
  assert.deepEqual(await wakeOutcomes(ctx.cfg.metrics), { ok: 1 });
  assert.equal(await phaseCount(ctx.cfg.metrics, 'wake'), 1);
  assert.equal(await phaseCount(ctx.cfg.metrics, 'backend_connect'), 1);
  assert.equal(await clientsWaiting(ctx.cfg.metrics), 0);
});

test('a cached address that fails to connect is dropped and the compute woken again', async () => {
  // The compute moved (suspended and resumed elsewhere) after its address was cached.
  const cp = new ScriptedControlPlane(ADDR_A, ADDR_B);
  const resolver = new FakeResolver(cp);
  const earlier = fakeWakeContext(resolver);
  await wakeAndConnect(earlier, SHOP, new ScriptedOpener('ok'));
  assert.equal(cp.wakes.length, 1);

  const ctx = fakeWakeContext(resolver);
  const opener = new ScriptedOpener('unreachable', 'ok');
  const conn = await wakeAndConnect(ctx, SHOP, opener);

  assert.deepEqual(conn.addr, ADDR_B);
  assert.deepEqual(cp.wakes, ['shop', 'shop'], 'the cache hit, then one more wake');
  assert.deepEqual(opener.opened, [ADDR_A, ADDR_B]);
  assert.deepEqual(resolver.invalidated, [{ project: 'shop', addr: ADDR_A }]);
  assert.deepEqual(opener.retried, [ADDR_A], 'the opener is told which address failed (pools drop it)');
  assert.ok(resolver.cache.has('shop'), 'the new address is cached');
  assert.equal(ctx.lines.length, 1);
  assert.equal(ctx.lines[0]!.msg, 'connect failed, waking again');
  assert.deepEqual([ctx.lines[0]!.obj.host, ctx.lines[0]!.obj.port], [ADDR_A.host, ADDR_A.port]);
  assert.match(String(ctx.lines[0]!.obj.err), /ECONNREFUSED/);
  assert.deepEqual(await wakeOutcomes(ctx.cfg.metrics), { ok: 2 });
  assert.equal(await clientsWaiting(ctx.cfg.metrics), 0);
});

test('wake fails, then the next client wakes it: failures are not cached', async () => {
  const cp = new ScriptedControlPlane(new WakeError('shop', 'start_failed', 'mariadbd exited (1)'), ADDR_A);
  const resolver = new FakeResolver(cp);
  const first = fakeWakeContext(resolver);
  const err = await clientErrorOf(wakeAndConnect(first, SHOP, new ScriptedOpener()));
  assert.equal(err.code, 1429);
  const second = fakeWakeContext(resolver);
  const conn = await wakeAndConnect(second, SHOP, new ScriptedOpener('ok'));
  assert.deepEqual(conn.addr, ADDR_A);
  assert.equal(cp.wakes.length, 2);
});

test('connect fails twice: 1429 naming the project and the cause, after exactly two wakes', async () => {
  const cp = new ScriptedControlPlane(ADDR_A, ADDR_A);
  const resolver = new FakeResolver(cp);
  const ctx = fakeWakeContext(resolver);
  const opener = new ScriptedOpener('unreachable', 'unreachable');
  const err = await clientErrorOf(wakeAndConnect(ctx, SHOP, opener));
  assert.equal(err.code, 1429);
  assert.equal(err.sqlState, 'HY000');
  assert.equal(err.kind, 'backend_connect_failed');
  assert.equal(err.message, "wake-proxy: compute of project 'shop' is unavailable: connect ECONNREFUSED 10.0.0.1:3306");
  assert.match((err.cause as Error).message, /ECONNREFUSED/, 'the cause is kept for the log');
  assert.equal(cp.wakes.length, 2);
  assert.equal(opener.opened.length, 2);
  assert.equal(resolver.invalidated.length, 2, 'both failed addresses are dropped');
  assert.equal(resolver.cache.has('shop'), false);
  assert.deepEqual(await wakeOutcomes(ctx.cfg.metrics), { ok: 2 });
  assert.equal(await clientsWaiting(ctx.cfg.metrics), 0);
});

test('a final connect error (the compute refused) is passed on as it is: no second wake, the address kept', async () => {
  const cp = new ScriptedControlPlane(ADDR_A);
  const resolver = new FakeResolver(cp);
  const ctx = fakeWakeContext(resolver);
  const opener = new ScriptedOpener('refused');
  await assert.rejects(wakeAndConnect(ctx, SHOP, opener), ComputeRefusedError);
  assert.equal(cp.wakes.length, 1);
  assert.equal(opener.opened.length, 1);
  assert.deepEqual(resolver.invalidated, []);
  assert.deepEqual(opener.retried, []);
  assert.ok(resolver.cache.has('shop'), 'a compute that answered is up: its address stays');
  assert.equal(ctx.lines.length, 0);
});

test('the client leaves during the wake: the wait stops at once, no connect, no retry, its waiting slot freed', async () => {
  const wake = later<BackendAddress>();
  const cp = new ScriptedControlPlane(wake.promise);
  const resolver = new FakeResolver(cp);
  // One waiting slot: the next client is admitted only if the first one's was given back.
  const ctx = fakeWakeContext(resolver, { limits: { maxWaitingPerProject: 1 } });
  const opener = new ScriptedOpener();
  const waiting = wakeAndConnect(ctx, SHOP, opener);
  await settle();
  assert.equal(await clientsWaiting(ctx.cfg.metrics), 1);

  const gone = new Error('client went away');
  ctx.abort.abort(gone);
  await assert.rejects(waiting, (err: unknown) => err === gone);
  assert.deepEqual(opener.opened, []);
  assert.deepEqual(resolver.invalidated, []);
  assert.deepEqual(await wakeOutcomes(ctx.cfg.metrics), { client_left: 1 });
  assert.equal(await clientsWaiting(ctx.cfg.metrics), 0);

  // The wake itself ran on: the next client of the project joins it and is served by it.
  const next = fakeWakeContext(resolver, { shared: { limits: ctx.cfg.limits, metrics: ctx.cfg.metrics } });
  const served = wakeAndConnect(next, SHOP, new ScriptedOpener('ok'));
  wake.resolve(ADDR_A);
  assert.deepEqual((await served).addr, ADDR_A);
  assert.equal(cp.wakes.length, 1);
});

test('a client gone before its wake (a passthrough login half-closed) asks for none and opens nothing', async () => {
  const cp = new ScriptedControlPlane();
  const ctx = fakeWakeContext(new FakeResolver(cp));
  const opener = new ScriptedOpener();
  const gone = new Error('client half-closed');
  ctx.abort.abort(gone);
  await assert.rejects(wakeAndConnect(ctx, SHOP, opener), (err: unknown) => err === gone);
  assert.deepEqual(cp.wakes, []);
  assert.deepEqual(opener.opened, []);
  assert.equal(await clientsWaiting(ctx.cfg.metrics), 0);
});

test('the client leaves during a connect: no second wake, and the address (and its pool) is kept', async () => {
  const cp = new ScriptedControlPlane(ADDR_A);
  const resolver = new FakeResolver(cp);
  const ctx = fakeWakeContext(resolver);
  const opener = new ScriptedOpener('hang');
  const connecting = wakeAndConnect(ctx, SHOP, opener);
  await settle();
  assert.equal(opener.opened.length, 1);
  ctx.abort.abort(new Error('client went away'));
  await assert.rejects(connecting);
  assert.equal(cp.wakes.length, 1);
  assert.equal(opener.opened.length, 1);
  // Leaving says nothing about the compute: other clients keep its address and pooled connections.
  assert.deepEqual(resolver.invalidated, []);
  assert.deepEqual(opener.retried, []);
  assert.ok(resolver.cache.has('shop'));
  assert.equal(await clientsWaiting(ctx.cfg.metrics), 0);
});

test('a borrow with its own signal (transaction mode) stops on it, not on the session', async () => {
  const cp = new ScriptedControlPlane(NEVER);
  const ctx = fakeWakeContext(new FakeResolver(cp));
  const borrow = new AbortController();
  const waiting = wakeAndConnect(ctx, SHOP, new ScriptedOpener(), borrow.signal);
  await settle();
  const gone = new Error('client went away');
  borrow.abort(gone);
  await assert.rejects(waiting, (err: unknown) => err === gone);
  assert.equal(ctx.abort.signal.aborted, false);
  assert.deepEqual(await wakeOutcomes(ctx.cfg.metrics), { client_left: 1 });
});

test('a wake that does not answer within the wake bound: 1429 "not ready within N ms", not a moment before', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const cp = new ScriptedControlPlane(NEVER);
  const ctx = fakeWakeContext(new FakeResolver(cp), { wakeTimeoutMs: 5_000 });
  let settled = false;
  const waiting = wakeAndConnect(ctx, SHOP, new ScriptedOpener());
  waiting.then(
    () => (settled = true),
    () => (settled = true),
  );
  t.mock.timers.tick(4_999);
  await settle();
  assert.equal(settled, false, 'still waiting 1 ms before the bound');
  assert.equal(await clientsWaiting(ctx.cfg.metrics), 1);
  t.mock.timers.tick(1);
  const err = await clientErrorOf(waiting);
  assert.equal(err.code, 1429);
  assert.equal(err.sqlState, 'HY000');
  assert.equal(err.kind, 'wake_timeout');
  assert.equal(err.message, "wake-proxy: compute of project 'shop' is unavailable: not ready within 5000 ms");
  assert.deepEqual(await wakeOutcomes(ctx.cfg.metrics), { wake_timeout: 1 });
  assert.equal(await clientsWaiting(ctx.cfg.metrics), 0);
});

test('an unknown project gets exactly the 1045 of a wrong password, and nothing is connected', async () => {
  const cp = new ScriptedControlPlane(new ProjectNotFoundError('nosuch'));
  const ctx = fakeWakeContext(new FakeResolver(cp));
  const opener = new ScriptedOpener();
  const err = await clientErrorOf(wakeAndConnect(ctx, route('nosuch', 'app'), opener));
  const wrongPassword = accessDenied('app', ctx.clientAddress, true);
  assert.deepEqual([err.code, err.sqlState, err.message], [wrongPassword.code, wrongPassword.sqlState, wrongPassword.message]);
  assert.equal(err.code, 1045);
  assert.doesNotMatch(err.message, /nosuch|project/, 'nothing tells the project does not exist');
  assert.deepEqual(opener.opened, []);
  assert.deepEqual(await wakeOutcomes(ctx.cfg.metrics), { access_denied: 1 });
});

test('a wake refused by the wake rate: 1226 naming the project', async () => {
  const cp = new ScriptedControlPlane(new WakeError('shop', 'rate_limited', 'more than 20 wake requests per second'));
  const ctx = fakeWakeContext(new FakeResolver(cp));
  const err = await clientErrorOf(wakeAndConnect(ctx, SHOP, new ScriptedOpener()));
  assert.equal(err.code, 1226);
  assert.equal(err.sqlState, '42000');
  assert.equal(err.message, "Project 'shop': more than 20 wake requests per second");
  assert.deepEqual(await wakeOutcomes(ctx.cfg.metrics), { wake_rate_limited: 1 });
});

test('each other wake failure: 1429 naming the project and the control plane cause, counted by reason', async () => {
  const reasons: WakeFailure[] = ['start_failed', 'timeout', 'control_api_unreachable', 'control_api_error'];
  for (const reason of reasons) {
    const cause = `cause of ${reason}`;
    const cp = new ScriptedControlPlane(new WakeError('shop', reason, cause));
    const ctx = fakeWakeContext(new FakeResolver(cp));
    const opener = new ScriptedOpener();
    const err = await clientErrorOf(wakeAndConnect(ctx, SHOP, opener));
    assert.equal(err.code, 1429, reason);
    assert.equal(err.sqlState, 'HY000');
    assert.equal(err.kind, `wake_${reason}`);
    assert.equal(err.message, `wake-proxy: compute of project 'shop' is unavailable: ${cause}`);
    assert.ok(err.cause instanceof WakeError);
    assert.deepEqual(opener.opened, [], 'no connect after a failed wake');
    assert.equal(cp.wakes.length, 1, 'no second wake after a failed wake');
    assert.deepEqual(await wakeOutcomes(ctx.cfg.metrics), { [`wake_${reason}`]: 1 });
    assert.equal(await clientsWaiting(ctx.cfg.metrics), 0);
  }
});

test('an unexpected resolver error: 1429 "control plane error", its text kept for the log only', async () => {
  const cp = new ScriptedControlPlane(new TypeError("Cannot read properties of undefined (reading 'host')"));
  const ctx = fakeWakeContext(new FakeResolver(cp));
  const err = await clientErrorOf(wakeAndConnect(ctx, SHOP, new ScriptedOpener()));
  assert.equal(err.code, 1429);
  assert.equal(err.kind, 'wake_error');
  assert.equal(err.message, "wake-proxy: compute of project 'shop' is unavailable: control plane error");
  assert.ok(err.cause instanceof TypeError);
});

test('clients held for one wake are bounded per project (1040); the held ones share one wake', async () => {
  const wake = later<BackendAddress>();
  const cp = new ScriptedControlPlane(wake.promise, ADDR_B);
  const resolver = new FakeResolver(cp);
  const proxy = fakeWakeContext(resolver, { limits: { maxWaitingPerProject: 2 } });
  const shared = { limits: proxy.cfg.limits, metrics: proxy.cfg.metrics };
  const session = () => fakeWakeContext(resolver, { shared });

  const held = [wakeAndConnect(session(), SHOP, new ScriptedOpener('ok')), wakeAndConnect(session(), SHOP, new ScriptedOpener('ok'))];
  await settle();
  assert.equal(await clientsWaiting(proxy.cfg.metrics), 2);

  const err = await clientErrorOf(wakeAndConnect(session(), SHOP, new ScriptedOpener()));
  assert.equal(err.code, 1040);
  assert.equal(err.sqlState, '08004');
  assert.equal(err.kind, 'too_many_waiting');
  assert.match(err.message, /2 clients are already waiting for project 'shop'/);

  // Another project is not held back by this one's crowd.
  const other = await wakeAndConnect(session(), route('blog'), new ScriptedOpener('ok'));
  assert.deepEqual(other.addr, ADDR_B);

  wake.resolve(ADDR_A);
  for (const conn of await Promise.all(held)) assert.deepEqual(conn.addr, ADDR_A);
  assert.deepEqual(cp.wakes, ['shop', 'blog'], 'one wake for the held clients of shop');
  assert.equal(await clientsWaiting(proxy.cfg.metrics), 0);
  assert.deepEqual(await wakeOutcomes(proxy.cfg.metrics), { ok: 3 });
  // Their slots are back: two more may wait.
  await Promise.all([wakeAndConnect(session(), SHOP, new ScriptedOpener('ok')), wakeAndConnect(session(), SHOP, new ScriptedOpener('ok'))]);
});

test('a storm of 200 clients on a sleeping project: one wake, all connected', async () => {
  const wake = later<BackendAddress>();
  const cp = new ScriptedControlPlane(wake.promise);
  const resolver = new FakeResolver(cp);
  const proxy = fakeWakeContext(resolver);
  const shared = { limits: proxy.cfg.limits, metrics: proxy.cfg.metrics };
  const storm = Array.from({ length: 200 }, () => wakeAndConnect(fakeWakeContext(resolver, { shared }), SHOP, new ScriptedOpener('ok')));
  await settle();
  assert.equal(await clientsWaiting(proxy.cfg.metrics), 200);
  wake.resolve(ADDR_A);
  const conns = await Promise.all(storm);
  assert.equal(conns.length, 200);
  assert.equal(cp.wakes.length, 1);
  assert.deepEqual(await wakeOutcomes(proxy.cfg.metrics), { ok: 200 });
  assert.equal(await clientsWaiting(proxy.cfg.metrics), 0);
});

test("the session's state: waiting_for_wake while held, the opener's connecting state while it opens, then what it was", async () => {
  const answer = later<BackendAddress>();
  const ctx = fakeWakeContext(new FakeResolver(new ScriptedControlPlane(answer.promise)));
  ctx.state = 'idle';
  ctx.stateSince = 1;
  const opening = later<{ addr: BackendAddress }>();
  const seen: string[] = [];
  const opener = {
    connectingState: 'waiting_for_connection' as const,
    open: (addr: BackendAddress) => {
      seen.push(ctx.state);
      return opening.promise.then(() => ({ addr }));
    },
    isFinal: () => false,
  };
  const done = wakeAndConnect(ctx, SHOP, opener);
  await settle();
  assert.equal(ctx.state, 'waiting_for_wake');
  assert.ok(ctx.stateSince > 1);
  answer.resolve(ADDR_A);
  await settle();
  assert.deepEqual(seen, ['waiting_for_connection']);
  opening.resolve({ addr: ADDR_A });
  await done;
  // The caller says what comes next (relaying); an opener without a connecting state leaves the state as it was.
  const plain = fakeWakeContext(new FakeResolver(new ScriptedControlPlane(ADDR_A)));
  plain.state = 'handshake';
  plain.stateSince = 5;
  await wakeAndConnect(plain, SHOP, new ScriptedOpener('ok'));
  assert.deepEqual({ state: plain.state, since: plain.stateSince }, { state: 'handshake', since: 5 });
});
