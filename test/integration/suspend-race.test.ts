// A connect racing a suspend, many times over: the client always wins. A
// wake that arrives during a suspend waits for it and then resumes the
// compute; a suspend the scheduler decided waits behind any wake already in
// the compute's queue and then asks again whether the compute is idle.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import { startStack, type ProjectCredentials, type Stack } from '../helpers/stack.js';

const ITERATIONS = 30;

let stack: Stack;
let shop: ProjectCredentials;

before(async () => {
  // No address cache: every connect asks the control plane, so each one is a wake in the race.
  // A short connect timeout bounds the one slow path: an address answered just before an
  // operator's freeze (the frozen server accepts TCP but never greets).
  stack = await startStack({
    cacheTtlMs: 0,
    proxy: { connectTimeoutMs: 1_500 },
    activity: { reportIntervalMs: 100, idleTimeoutMs: 300, coldTimeoutMs: 60_000, checkIntervalMs: 50 },
  });
  shop = await stack.createProject('shop');
});

after(async () => {
  await stack?.close();
});

/** Connect, query, quit; a client stuck on a frozen compute fails after 10 s instead of hanging the test. */
async function selectOne(): Promise<number> {
  const started = performance.now();
  const conn = await mysql.createConnection({ host: '127.0.0.1', port: stack.proxy.port, user: `shop.${shop.user}`, password: shop.password });
  try {
    const [rows] = await conn.query({ sql: 'SELECT 1 AS one', timeout: 10_000 });
    assert.equal((rows as any[])[0].one, 1);
  } finally {
    await conn.end();
  }
  return performance.now() - started;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test(`${ITERATIONS} operator suspends (freeze and stop) each raced by a connect: no client error`, async (t) => {
  const errors: string[] = [];
  const latencies: number[] = [];
  for (let i = 0; i < ITERATIONS; i++) {
    const tier = i % 3 === 2 ? 'stop' : 'freeze';
    await stack.api('POST', '/api/v1/projects/shop/wake');
    const suspend = stack.api('POST', `/api/v1/compute/${shop.computeId}/suspend`, { tier });
    await sleep(i % 5); // 0-4 ms: before, during and just after the suspend starts
    const [connected, suspended] = await Promise.allSettled([selectOne(), suspend]);
    if (connected.status === 'rejected') errors.push(`#${i} ${tier}: ${(connected.reason as Error).message}`);
    else latencies.push(connected.value);
    assert.equal(suspended.status, 'fulfilled');
  }
  latencies.sort((a, b) => a - b);
  t.diagnostic(`connect+query during a suspend: p50 ${latencies[latencies.length >> 1]?.toFixed(1)} ms, max ${latencies.at(-1)?.toFixed(1)} ms`);
  assert.deepEqual(errors, []);
});

test(`${ITERATIONS} idle checks by the scheduler raced by a connect: no client error, no client left on a frozen compute`, async (t) => {
  const scheduler = stack.cp.duties.scheduler!;
  const errors: string[] = [];
  let schedulerFirst = 0;
  for (let i = 0; i < ITERATIONS; i++) {
    await selectOne();
    // The compute may be suspended from 300 ms after the client left: race around that moment.
    await sleep(280 + ((i * 17) % 60));
    const [connected, check] = await Promise.allSettled([selectOne(), scheduler.check()]);
    if (connected.status === 'rejected') errors.push(`#${i}: ${(connected.reason as Error).message}`);
    if (check.status === 'fulfilled' && check.value.length > 0) schedulerFirst++;
  }
  t.diagnostic(`${ITERATIONS} races: the scheduler's suspend got into the queue first ${schedulerFirst} times, the client's wake the rest`);
  assert.deepEqual(errors, []);
  assert.ok(schedulerFirst > 0, 'the scheduler never got in first: the race was not exercised');
});
