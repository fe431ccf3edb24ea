// What real clients get when a wake goes wrong, end to end: a proxy in front of
// a real mariadbd, with a control plane that answers late, never, from a dead
// address, or over its wake rate. The same steps on fakes, in milliseconds:
// test/unit/proxy-wake-and-connect.test.ts.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import mysql from 'mysql2/promise';
import mysqlCallback from 'mysql2';
import { startStandaloneMariadb, type StandaloneMariadb } from '../helpers/standalone-mariadb.js';
import { testLogger } from '../helpers/logger.js';
import { createControlApiResolver } from '../../control-client/control-api-resolver.js';
import type { ComputeResolver } from '../../control-client/types.js';
import type { BackendAddress } from '../../backend/address.js';
import { startProxy, type ProxyOptions, type ProxyServer } from '../../proxy/server.js';

let db: StandaloneMariadb;
const proxies: ProxyServer[] = [];

before(async () => {
  db = await startStandaloneMariadb();
});
after(async () => {
  await Promise.all(proxies.map((p) => p.close()));
  await db?.stop();
});

async function proxyWith(resolver: ComputeResolver, more: Partial<ProxyOptions> = {}): Promise<ProxyServer> {
  const p = await startProxy({
    host: '127.0.0.1',
    port: 0,
    resolver,
    routing: { fixedProject: 'tenant' },
    logger: testLogger(),
    ...more,
  });
  proxies.push(p);
  return p;
}

function connect(p: ProxyServer) {
  return mysql.createConnection({ host: '127.0.0.1', port: p.port, user: db.user, password: db.password });
}

/** A resolver that counts what it is asked and answers through `answer`. */
function countingResolver(answer: (signal: AbortSignal) => Promise<BackendAddress>) {
  const r = {
    resolves: 0,
    invalidated: [] as BackendAddress[],
    resolve: (_project: string, signal: AbortSignal) => {
      r.resolves++;
      return answer(signal);
    },
    invalidate: (_project: string, addr: BackendAddress) => void r.invalidated.push(addr),
    close: async () => {},
  };
  return r;
}

/** Waits as a real resolver does: until its answer, or until the caller's signal aborts. */
function answerWhen(gate: Promise<BackendAddress>, signal: AbortSignal): Promise<BackendAddress> {
  return new Promise((resolve, reject) => {
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
    gate.then(resolve, reject);
  });
}

async function wakeOutcomes(p: ProxyServer): Promise<Record<string, number>> {
  const m = await p.metrics.wakeRequests.get();
  return Object.fromEntries(m.values.map((v) => [String(v.labels.outcome), v.value]));
}

async function clientsWaiting(p: ProxyServer): Promise<number> {
  return (await p.metrics.clientsWaiting.get()).values[0]?.value ?? 0;
}

async function until(what: string, check: () => Promise<boolean>, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) assert.fail(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('a wake that does not answer within the wake bound: 1429 "not ready within N ms"', async () => {
  const never = countingResolver((signal) => answerWhen(new Promise(() => {}), signal));
  const p = await proxyWith(never, { wakeTimeoutMs: 300 });
  const started = Date.now();
  await assert.rejects(connect(p), (err: any) => {
    assert.equal(err.errno, 1429, err.message);
    assert.equal(err.message, "wake-proxy: compute of project 'tenant' is unavailable: not ready within 300 ms");
    return true;
  });
  assert.ok(Date.now() - started >= 290, 'not before the bound');
  assert.deepEqual(await wakeOutcomes(p), { wake_timeout: 1 });
  assert.equal(await clientsWaiting(p), 0);
});

test('a client that hangs up during the wake stops waiting and frees its place', async () => {
  let open!: (addr: BackendAddress) => void;
  const gate = new Promise<BackendAddress>((r) => (open = r));
  const slow = countingResolver((signal) => answerWhen(gate, signal));
  const p = await proxyWith(slow, { limits: { maxWaitingPerProject: 1 } });
  const leaver = mysqlCallback.createConnection({ host: '127.0.0.1', port: p.port, user: db.user, password: db.password });
  leaver.on('error', () => {});
  leaver.connect(() => {});
  await until('the client waits for the wake', async () => (await clientsWaiting(p)) === 1);
  leaver.destroy();
  await until('its wait ends', async () => (await clientsWaiting(p)) === 0);
  assert.deepEqual(await wakeOutcomes(p), { client_left: 1 });
  // Its place is free (one may wait): the next client waits for the wake and is served by it.
  const next = connect(p);
  await until('the next client waits', async () => (await clientsWaiting(p)) === 1);
  open({ host: db.host, port: db.port });
  const c = await next;
  await c.query('SELECT 1');
  await c.end();
});

test('a compute that refuses connections twice: 1429 naming the project and the cause, after two wakes', async () => {
  const dead = createServer();
  await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
  const deadPort = (dead.address() as AddressInfo).port;
  await new Promise<void>((r) => dead.close(() => r()));
  const stale = countingResolver(() => Promise.resolve({ host: '127.0.0.1', port: deadPort }));
  const p = await proxyWith(stale);
  await assert.rejects(connect(p), (err: any) => {
    assert.equal(err.errno, 1429, err.message);
    assert.match(err.message, /compute of project 'tenant' is unavailable: .*ECONNREFUSED/);
    return true;
  });
  assert.equal(stale.resolves, 2, 'woken once more after the first failed connect, not again');
  assert.equal(stale.invalidated.length, 2);
  assert.deepEqual(await wakeOutcomes(p), { ok: 2 });
});

test('wakes beyond the per-project wake rate: 1226, without reaching the control API', async () => {
  let calls = 0;
  const api: HttpServer = createHttpServer((_req, res) => {
    calls++;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ compute: { id: 'tenant-c1', state: 'active', host: db.host, port: db.port } }));
  });
  await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
  try {
    // No cache, one wake a second: the second client within the second is over the rate.
    const resolver = createControlApiResolver({
      url: `http://127.0.0.1:${(api.address() as AddressInfo).port}`,
      wakeTimeoutMs: 5_000,
      cacheTtlMs: 0,
      wakeRatePerProject: 1,
    });
    const p = await proxyWith(resolver);
    const first = await connect(p);
    await first.end();
    await assert.rejects(connect(p), (err: any) => {
      assert.equal(err.errno, 1226, err.message);
      assert.equal(err.sqlState, '42000');
      assert.match(err.message, /Project 'tenant': more than 1 wake requests per second/);
      return true;
    });
    assert.equal(calls, 1);
    assert.deepEqual(await wakeOutcomes(p), { ok: 1, wake_rate_limited: 1 });
  } finally {
    await new Promise<void>((r) => api.close(() => r()));
  }
});
