// Computes go to sleep on their own: a real proxy reporting to a real
// redis-server, the idle scheduler in the control plane, real mariadbd
// computes frozen (SIGSTOP) and then stopped, and woken again by the next client.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import { startStack, type ProjectCredentials, type Stack } from '../helpers/stack.js';
import { startRedis, type RedisServer } from '../helpers/redis-server.js';
import { computePid, kernelState } from '../helpers/control-plane-compute.js';

const IDLE_MS = 1_000;
const COLD_MS = 1_500;
const REPORT_MS = 200;
const CHECK_MS = 200;
/** When the scheduler must have acted after the rule allows it: one report, one check, and polling slack. */
const LATE_MS = REPORT_MS + CHECK_MS + 600;

let redis: RedisServer;
let stack: Stack;
let shop: ProjectCredentials;

before(async () => {
  redis = await startRedis();
  stack = await startStack({
    cacheTtlMs: 100,
    activity: { redisUrl: redis.url, reportIntervalMs: REPORT_MS, idleTimeoutMs: IDLE_MS, coldTimeoutMs: COLD_MS, checkIntervalMs: CHECK_MS },
  });
  shop = await stack.createProject('shop');
});

after(async () => {
  await stack?.close();
  await redis?.close();
});

function connect(): Promise<mysql.Connection> {
  return mysql.createConnection({ host: '127.0.0.1', port: stack.proxy.port, user: `shop.${shop.user}`, password: shop.password });
}

async function selectOne(): Promise<void> {
  const conn = await connect();
  try {
    const [rows] = await conn.query('SELECT 1 AS one');
    assert.equal((rows as any[])[0].one, 1);
  } finally {
    await conn.end();
  }
}

test('an idle compute is frozen within idle timeout + intervals, then stopped after the cold timeout', async (t) => {
  await selectOne();
  const left = Date.now();
  const frozen = await stack.waitForState(shop.computeId, 'frozen', IDLE_MS + LATE_MS + 2_000);
  const frozeAfter = Date.now() - left;
  t.diagnostic(`last client left -> frozen: ${frozeAfter} ms (idle timeout ${IDLE_MS} ms)`);
  assert.ok(frozeAfter >= IDLE_MS, `frozen too early: ${frozeAfter} ms`);
  assert.ok(frozeAfter <= IDLE_MS + LATE_MS, `frozen too late: ${frozeAfter} ms`);
  assert.equal(await kernelState(await computePid(stack.dataDir, shop.computeId)), 'T');

  const frozenAt = Date.parse(frozen.updatedAt);
  const stopped = await stack.waitForState(shop.computeId, 'stopped', COLD_MS + LATE_MS + 5_000);
  const stopAfter = Date.parse(stopped.updatedAt) - frozenAt;
  t.diagnostic(`frozen -> stopped: ${stopAfter} ms (cold timeout ${COLD_MS} ms)`);
  assert.ok(stopAfter >= COLD_MS, `stopped too early: ${stopAfter} ms`);

  const metrics = await (await fetch(`${stack.cp.url}/metrics`)).text();
  assert.match(metrics, /wakeproxy_scheduler_suspends_total\{tier="freeze"\} [1-9]/);
  assert.match(metrics, /wakeproxy_scheduler_suspends_total\{tier="stop"\} [1-9]/);
});

test('a stopped compute and a frozen one both wake for the next client', async () => {
  const before = (await stack.compute(shop.computeId)).resumeCount;
  await selectOne();
  assert.equal((await stack.compute(shop.computeId)).state, 'active');
  await stack.waitForState(shop.computeId, 'frozen', IDLE_MS + LATE_MS + 2_000);
  await selectOne();
  const after = await stack.compute(shop.computeId);
  assert.equal(after.state, 'active');
  assert.equal(after.resumeCount, before + 2);
});

test('a connected client keeps its compute awake however quiet it is; leaving lets it sleep', async () => {
  const conn = await connect();
  try {
    await conn.query('SELECT 1');
    await new Promise((r) => setTimeout(r, 3 * IDLE_MS));
    assert.equal((await stack.compute(shop.computeId)).state, 'active');
    const [rows] = await conn.query('SELECT 2 AS two');
    assert.equal((rows as any[])[0].two, 2);
  } finally {
    await conn.end();
  }
  await stack.waitForState(shop.computeId, 'frozen', IDLE_MS + LATE_MS + 2_000);
});

test('a busy client keeps its compute awake; so does a recent wake with no client at all', async () => {
  const conn = await connect();
  try {
    const until = Date.now() + 2 * IDLE_MS;
    while (Date.now() < until) await conn.query('SELECT SLEEP(0.05)');
    assert.equal((await stack.compute(shop.computeId)).state, 'active');
  } finally {
    await conn.end();
  }
  await stack.waitForState(shop.computeId, 'frozen', IDLE_MS + LATE_MS + 2_000);
  // A wake through the API, no client: the compute stays up for the idle timeout after it.
  const woke = Date.now();
  assert.equal((await stack.api('POST', '/api/v1/projects/shop/wake')).status, 200);
  await stack.waitForState(shop.computeId, 'frozen', IDLE_MS + LATE_MS + 2_000);
  assert.ok(Date.now() - woke >= IDLE_MS, `frozen ${Date.now() - woke} ms after a wake`);
});

test('a compute whose mariadbd is killed is seen as failed and the next client starts it again', async () => {
  await selectOne();
  const pid = await computePid(stack.dataDir, shop.computeId);
  process.kill(pid, 'SIGKILL');
  const failed = await stack.waitForState(shop.computeId, 'failed', 5_000);
  assert.match(failed.lastError, /exited unexpectedly/);
  await selectOne();
  assert.equal((await stack.compute(shop.computeId)).state, 'active');
  assert.notEqual(await computePid(stack.dataDir, shop.computeId), pid);
});
