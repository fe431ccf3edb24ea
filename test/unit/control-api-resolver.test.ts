// The proxy's control API client against a small server speaking the control
// API's wake contract: single flight, caching, error mapping, wake rate.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { createControlApiResolver } from '../../control-client/control-api-resolver.js';
import { ProjectNotFoundError, WakeError } from '../../control-client/errors.js';

let server: Server;
let url: string;
const calls = new Map<string, number>();

before(async () => {
  server = createServer((req, res) => {
    const project = /\/api\/v1\/projects\/([^/]+)\/wake$/.exec(req.url ?? '')?.[1] ?? '';
    calls.set(project, (calls.get(project) ?? 0) + 1);
    const reply = (status: number, body: unknown) =>
      setTimeout(() => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body)), 50);
    if (project === 'missing') return reply(404, { error: { code: 'project_not_found', message: 'no' } });
    if (project === 'broken') {
      return reply(503, { error: { code: 'compute_start_failed', message: "project 'broken': mariadbd exited" } });
    }
    reply(200, { project, compute: { id: `${project}-c1`, state: 'active', host: '127.0.0.1', port: 4000 } });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
after(() => new Promise<void>((r) => server.close(() => r())));

const signal = () => AbortSignal.timeout(5_000);

test('20 concurrent resolves make one call; the answer is cached; invalidate asks again', async () => {
  const r = createControlApiResolver({ url, wakeTimeoutMs: 5_000, cacheTtlMs: 60_000 });
  const addrs = await Promise.all(Array.from({ length: 20 }, () => r.resolve('shop', signal())));
  assert.equal(calls.get('shop'), 1);
  assert.ok(addrs.every((a) => a.port === 4000 && a.computeId === 'shop-c1'));
  await r.resolve('shop', signal());
  assert.equal(calls.get('shop'), 1);
  r.invalidate('shop', addrs[0]!);
  await r.resolve('shop', signal());
  assert.equal(calls.get('shop'), 2);
  await r.close();
});

test('404 is ProjectNotFoundError and 503 a WakeError carrying the cause', async () => {
  const r = createControlApiResolver({ url, wakeTimeoutMs: 5_000, cacheTtlMs: 1_000 });
  await assert.rejects(r.resolve('missing', signal()), ProjectNotFoundError);
  await assert.rejects(r.resolve('broken', signal()), (err: unknown) => {
    assert.ok(err instanceof WakeError);
    assert.equal(err.reason, 'start_failed');
    assert.match(err.message, /mariadbd exited/);
    return true;
  });
  await r.close();
});

test('one impatient caller giving up does not fail the others', async () => {
  const r = createControlApiResolver({ url, wakeTimeoutMs: 5_000, cacheTtlMs: 1_000 });
  const impatient = r.resolve('patience', AbortSignal.timeout(5));
  const patient = r.resolve('patience', signal());
  await assert.rejects(impatient);
  assert.equal((await patient).port, 4000);
  await r.close();
});

test('wake calls beyond the per-project rate are refused without reaching the API', async () => {
  const r = createControlApiResolver({ url, wakeTimeoutMs: 5_000, cacheTtlMs: 0, wakeRatePerProject: 2 });
  await r.resolve('busy', signal());
  await r.resolve('busy', signal());
  await assert.rejects(r.resolve('busy', signal()), (err: unknown) => err instanceof WakeError && err.reason === 'rate_limited');
  assert.equal(calls.get('busy'), 2);
  await r.close();
});

test('an unreachable control API is a WakeError, not a crash', async () => {
  const r = createControlApiResolver({ url: 'http://127.0.0.1:1', wakeTimeoutMs: 1_000, cacheTtlMs: 0 });
  await assert.rejects(r.resolve('shop', signal()), (err: unknown) => err instanceof WakeError && err.reason === 'control_api_unreachable');
  await r.close();
});

test('with several control-plane URLs, a wake that gets no answer from one is tried on the next', async () => {
  const dead = 'http://127.0.0.1:1';
  const r = createControlApiResolver({ url: [dead, url], wakeTimeoutMs: 5_000, cacheTtlMs: 0 });
  calls.delete('replicas');
  for (let i = 0; i < 4; i++) assert.equal((await r.resolve('replicas', signal())).port, 4000);
  assert.equal(calls.get('replicas'), 4, 'each wake answered once, by the live replica');
  await r.close();
  const none = createControlApiResolver({ url: [dead, 'http://127.0.0.1:2'], wakeTimeoutMs: 1_000, cacheTtlMs: 0 });
  await assert.rejects(none.resolve('replicas', signal()), (err: unknown) => {
    assert.ok(err instanceof WakeError);
    assert.equal(err.reason, 'control_api_unreachable');
    assert.match(err.message, /tried 2 URLs/);
    return true;
  });
  await none.close();
});

test('while no control plane answers, a learned address keeps serving past its TTL; an unknown one fails', async () => {
  const own = createServer((req, res) => {
    const project = /\/api\/v1\/projects\/([^/]+)\/wake$/.exec(req.url ?? '')?.[1] ?? '';
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ project, compute: { id: 'c', state: 'active', host: '127.0.0.1', port: 4100 } }));
  });
  await new Promise<void>((r) => own.listen(0, '127.0.0.1', r));
  const ownUrl = `http://127.0.0.1:${(own.address() as { port: number }).port}`;
  const r = createControlApiResolver({ url: ownUrl, wakeTimeoutMs: 1_000, cacheTtlMs: 30, maxStaleMs: 60_000 });
  const learned = await r.resolve('awake', signal());
  await new Promise<void>((resolve) => own.close(() => resolve()));
  own.closeAllConnections();
  await new Promise((resolve) => setTimeout(resolve, 80)); // past the TTL
  assert.deepEqual(await r.resolve('awake', signal()), learned, 'the compute was awake when last told, and nothing can suspend it meanwhile');
  await assert.rejects(r.resolve('never-woken', signal()), (err: unknown) => err instanceof WakeError && err.reason === 'control_api_unreachable');
  // A connect to it failed: the address is dropped, and with no control plane there is nothing left to try.
  r.invalidate('awake', learned);
  await assert.rejects(r.resolve('awake', signal()), (err: unknown) => err instanceof WakeError && err.reason === 'control_api_unreachable');
  await r.close();
});
