// Plans end to end, through the proxy with verified logins: a project over its
// CU-hour quota is not woken; its clients get error 7001 saying why, and only
// once their password was right (a wrong one still gets 1045, and neither
// wakes anything); raising the quota lets the next connect wake it; the
// leader stops a compute that goes over its quota while awake.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import { startStack, type ProjectCredentials, type Stack } from '../helpers/stack.js';

let stack: Stack;
let shop: ProjectCredentials;

before(async () => {
  // Quotas are checked at every leader sweep here, not every 30 s.
  stack = await startStack({ verify: { ttlMs: 500 }, cacheTtlMs: 100, controlPlane: { quotaIntervalMs: 0 } });
  // 0.36 CU-seconds a month: 1.44 s at 0.25 CU, which creating the project already nearly uses.
  shop = await stack.createProject('metered', { quota: { cuHoursPerMonth: 0.0001 } });
});

after(async () => {
  await stack?.close();
});

const login = (password: string) =>
  mysql.createConnection({ host: '127.0.0.1', port: stack.proxy.port, user: `metered.${shop.user}`, password, connectTimeout: 15_000 });

async function refusal(password: string): Promise<{ errno: number; sqlState: string; message: string }> {
  try {
    const conn = await login(password);
    await conn.end();
  } catch (err) {
    const e = err as { errno: number; sqlState: string; message: string };
    return { errno: e.errno, sqlState: e.sqlState, message: e.message };
  }
  throw new Error('the login was accepted');
}

test('over its quota: refused with 7001 after the password, never woken; a raised quota lets the next connect in', async () => {
  await new Promise((r) => setTimeout(r, 1_600));
  await stack.suspend(shop.computeId, 'stop');
  const before = await stack.compute(shop.computeId);
  assert.equal(before.state, 'stopped');

  const wrong = await refusal('not-the-password');
  assert.equal(wrong.errno, 1045, `a wrong password is judged first: ${wrong.message}`);

  const over = await refusal(shop.password);
  assert.equal(over.errno, 7001, over.message);
  assert.equal(over.sqlState, '08004');
  assert.match(over.message, /^wake-proxy: project 'metered' is over its quota: it has used 0\.000\d+ of its 0\.0001 CU-hours this month/);

  const after = await stack.compute(shop.computeId);
  assert.equal(after.state, 'stopped', 'nothing was woken');
  assert.equal(after.resumeCount, before.resumeCount);
  const metrics = await (await fetch(`${stack.cp.url}/metrics`)).text();
  assert.match(metrics, /^wakeproxy_quota_actions_total\{action="refused"\} 1$/m);

  const raised = await stack.api('PATCH', '/api/v1/projects/metered', { quota: { cuHoursPerMonth: 10 } });
  assert.equal(raised.status, 200, JSON.stringify(raised.body));
  assert.deepEqual(raised.body.quota, { cuHoursPerMonth: 10, storageBytes: null });
  const conn = await login(shop.password);
  const [rows] = await conn.query('SELECT 1 AS one');
  assert.deepEqual(rows, [{ one: 1 }]);
  await conn.end();
  assert.equal((await stack.compute(shop.computeId)).state, 'active');
});

test('a compute that goes over its quota while awake is stopped by the leader', async () => {
  assert.equal((await stack.compute(shop.computeId)).state, 'active');
  const lowered = await stack.api('PATCH', '/api/v1/projects/metered', { quota: { cuHoursPerMonth: 0.0001 } });
  assert.equal(lowered.status, 200);
  await stack.cp.duties.sweep();
  await stack.waitForState(shop.computeId, 'stopped', 10_000);
  assert.equal((await refusal(shop.password)).errno, 7001);
  const lifted = await stack.api('PATCH', '/api/v1/projects/metered', { quota: null });
  assert.deepEqual(lifted.body.quota, { cuHoursPerMonth: null, storageBytes: null });
  await (await login(shop.password)).end();
});
