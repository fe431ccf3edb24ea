// Usage over a scripted scenario: a project created, two clients on two
// proxies (one of them killed with SIGKILL mid-session), a stop, a quiet
// while. Compute seconds, connection seconds, bytes and storage must add up
// to what the script did, read twice the same, and ranges must cut them.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import { startStack, type ProjectCredentials, type Stack } from '../helpers/stack.js';
import { startRedis, type RedisServer } from '../helpers/redis-server.js';
import { startProxyProcess, type ProxyProcess } from '../helpers/proxy-process.js';

const REPORT_MS = 200;
const PAYLOAD = 200_000;

let redis: RedisServer;
let stack: Stack;
let other: ProxyProcess | undefined;

before(async () => {
  redis = await startRedis();
  // The scheduler stays off: the script decides when the compute runs.
  stack = await startStack({ activity: { redisUrl: redis.url, reportIntervalMs: REPORT_MS } });
});

after(async () => {
  await other?.kill('SIGKILL');
  await stack?.close();
  await redis?.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function usage(query = ''): Promise<any> {
  const res = await stack.api('GET', `/api/v1/projects/shop/usage${query}`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body;
}

test('usage adds up over a scripted scenario', async (t) => {
  const createStarted = Date.now();
  const shop: ProjectCredentials = await stack.createProject('shop');
  const activeAt = Date.now();
  other = await startProxyProcess(['--control-url', stack.cp.url, '--redis', redis.url, '--report-interval', `${REPORT_MS}ms`]);
  const login = (port: number) => ({ host: '127.0.0.1', port, user: `shop.${shop.user}`, password: shop.password });

  // Client A on the in-process proxy: about 1.5 s, one big result.
  // Sessions count from when they relay (after the handshake): bound them from both sides.
  const aConnecting = Date.now();
  const a = await mysql.createConnection(login(stack.proxy.port));
  const aStarted = Date.now();
  // Client B on the proxy process, which is killed while B is connected.
  const bConnecting = Date.now();
  const b = await mysql.createConnection(login(other.port));
  const bStarted = Date.now();
  b.on('error', () => {});
  await a.query(`SELECT REPEAT('a', ${PAYLOAD}) AS big`);
  await b.query(`SELECT REPEAT('b', ${PAYLOAD}) AS big`);
  await sleep(1_000);
  await other.kill('SIGKILL');
  const bEnded = Date.now();
  await sleep(500);
  await a.end();
  const aEnded = Date.now();

  await sleep(REPORT_MS * 2); // A's end reaches the store
  const stopStarted = Date.now();
  await stack.suspend(shop.computeId, 'stop');
  const stoppedAt = Date.now();
  await sleep(1_000); // stopped: no compute seconds

  const u = await usage();
  t.diagnostic(JSON.stringify(u));
  const secs = (ms: number) => ms / 1000;
  assert.ok(u.computeSeconds >= secs(stopStarted - activeAt), `compute ${u.computeSeconds} s`);
  assert.ok(u.computeSeconds <= secs(stoppedAt - createStarted), `compute ${u.computeSeconds} s`);
  // A counts whole; B up to its proxy's last report before the kill (at most one interval lost).
  const aSecs = secs(aEnded - aStarted);
  const bSecs = secs(bEnded - bStarted);
  assert.ok(u.connectionSeconds <= secs(aEnded - aConnecting + bEnded - bConnecting), `connection ${u.connectionSeconds} s`);
  assert.ok(u.connectionSeconds >= aSecs + bSecs - secs(REPORT_MS) - 0.1, `connection ${u.connectionSeconds} s, A ${aSecs} B ${bSecs}`);
  assert.ok(u.bytesOut >= 2 * PAYLOAD && u.bytesOut < 2 * PAYLOAD + 20_000, `bytesOut ${u.bytesOut}`);
  assert.ok(u.bytesIn > 100 && u.bytesIn < 10_000, `bytesIn ${u.bytesIn}`);
  assert.ok(u.storageBytes > 1_000_000, `storage ${u.storageBytes}`);

  // Repeated reports change nothing: every write is absolute.
  await stack.reporter!.flush();
  await stack.reporter!.flush();
  const again = await usage();
  assert.deepEqual({ ...again, to: u.to, computeSeconds: u.computeSeconds }, u);
  assert.equal(again.computeSeconds, u.computeSeconds, 'stopped: compute seconds no longer grow');

  // Ranges: before the project, and only the quiet while after the stop.
  const before = await usage(`?from=${new Date(createStarted - 86_400_000).toISOString()}&to=${new Date(createStarted - 120_000).toISOString()}`);
  assert.deepEqual([before.computeSeconds, before.connectionSeconds, before.bytesIn, before.bytesOut], [0, 0, 0, 0]);
  const quiet = await usage(`?from=${new Date(stoppedAt + 10).toISOString()}`);
  assert.equal(quiet.computeSeconds, 0);
});

test('the usage endpoint refuses bad ranges and unknown projects', async () => {
  const bad = async (q: string, code: string) => {
    const res = await stack.api('GET', `/api/v1/projects/shop/usage${q}`);
    assert.equal(res.status, 400, q);
    assert.equal(res.body.error.code, code, q);
  };
  await bad('?from=yesterday', 'invalid_time');
  await bad('?from=2024-05-02T00:00:00Z&to=2024-05-01T00:00:00Z', 'invalid_range');
  await bad('?from=2000-01-01T00:00:00Z&to=2024-05-01T00:00:00Z', 'invalid_range');
  const missing = await stack.api('GET', '/api/v1/projects/nope/usage');
  assert.equal(missing.status, 404);
});
