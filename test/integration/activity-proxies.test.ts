// Several proxies on one Redis: their clients add up, a proxy killed with
// SIGKILL stops keeping its project awake once its report expires, and one
// that shuts down cleanly says so at once. The second proxy is a real
// `wake-proxy proxy` process.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import { startStack, type ProjectCredentials, type Stack } from '../helpers/stack.js';
import { startRedis, type RedisServer } from '../helpers/redis-server.js';
import { startProxyProcess, type ProxyProcess } from '../helpers/proxy-process.js';

const IDLE_MS = 1_000;
const REPORT_MS = 200;
const TTL_MS = 3 * REPORT_MS;

let redis: RedisServer;
let stack: Stack;
let shop: ProjectCredentials;
const children: ProxyProcess[] = [];

before(async () => {
  redis = await startRedis();
  stack = await startStack({
    cacheTtlMs: 100,
    activity: { redisUrl: redis.url, reportIntervalMs: REPORT_MS, idleTimeoutMs: IDLE_MS, coldTimeoutMs: 60_000 },
  });
  shop = await stack.createProject('shop');
});

after(async () => {
  for (const c of children) await c.kill('SIGKILL');
  await stack?.close();
  await redis?.close();
});

async function secondProxy(): Promise<ProxyProcess> {
  const p = await startProxyProcess([
    '--control-url', stack.cp.url, '--redis', redis.url, '--report-interval', `${REPORT_MS}ms`, '--cache-ttl', '100ms', '--log-level', 'info',
  ]);
  children.push(p);
  return p;
}

function connect(port: number): Promise<mysql.Connection> {
  return mysql.createConnection({ host: '127.0.0.1', port, user: `shop.${shop.user}`, password: shop.password });
}

async function clientsOfShop(): Promise<number> {
  return (await stack.store!.readActivity(['shop'])).clients.get('shop') ?? 0;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return Date.now() - started;
}

test('clients of two proxies add up, and the compute sleeps only once both are gone', async () => {
  const other = await secondProxy();
  const a = await connect(stack.proxy.port);
  const b = await connect(other.port);
  await a.query('SELECT 1');
  await b.query('SELECT 1');
  await until('2 clients reported', async () => (await clientsOfShop()) === 2, 2_000);
  await a.end();
  await until('1 client reported', async () => (await clientsOfShop()) === 1, 2_000);
  await new Promise((r) => setTimeout(r, IDLE_MS + 4 * REPORT_MS));
  assert.equal((await stack.compute(shop.computeId)).state, 'active', 'the client on the second proxy keeps it awake');
  await b.end();
  await stack.waitForState(shop.computeId, 'frozen', IDLE_MS + 3_000);
  await other.kill('SIGTERM');
});

test("a SIGKILLed proxy's clients stop counting within three report intervals", async (t) => {
  const doomed = await secondProxy();
  const conn = await connect(doomed.port);
  conn.on('error', () => {}); // its proxy is about to vanish
  await conn.query('SELECT 1');
  await until('client reported', async () => (await clientsOfShop()) === 1, 2_000);
  await doomed.kill('SIGKILL');
  const killed = Date.now();
  assert.equal(await clientsOfShop(), 1, 'still counted right after the kill');
  const expiredAfter = await until('count expired', async () => (await clientsOfShop()) === 0, TTL_MS + 1_000);
  t.diagnostic(`SIGKILLed proxy's count expired ${expiredAfter} ms after the kill (TTL ${TTL_MS} ms)`);
  assert.ok(expiredAfter <= TTL_MS + 100, `expired after ${expiredAfter} ms`);
  await stack.waitForState(shop.computeId, 'frozen', IDLE_MS + TTL_MS + 3_000);
  t.diagnostic(`compute frozen ${Date.now() - killed} ms after the kill`);
  conn.destroy();
});

test('a proxy stopped with SIGTERM reports its clients gone without waiting for the TTL', async () => {
  const leaving = await secondProxy();
  const conn = await connect(leaving.port);
  conn.on('error', () => {});
  await conn.query('SELECT 1');
  await until('client reported', async () => (await clientsOfShop()) === 1, 2_000);
  const stopped = leaving.kill('SIGTERM');
  // Draining waits for the client; once it leaves, the last report says 0.
  await conn.end();
  await stopped;
  assert.equal(await clientsOfShop(), 0);
});
