// While no control plane answers, a project whose compute is awake keeps being
// served from the address the proxy learned (nothing can put the compute to
// sleep meanwhile: the scheduler lives in the control plane); a sleeping one
// gets 1429. A control plane back on the same address (and the same state)
// serves wakes again.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import { createProcessDriver } from '../../control-plane/drivers/process-driver.js';
import { startControlPlane, type ControlPlane } from '../../control-plane/server.js';
import { startStack, type ProjectCredentials, type Stack } from '../helpers/stack.js';
import { testLogger } from '../helpers/logger.js';

let stack: Stack;
let awake: ProjectCredentials;
let asleep: ProjectCredentials;
let restarted: ControlPlane | undefined;

before(async () => {
  stack = await startStack({ cacheTtlMs: 200 });
  awake = await stack.createProject('awake');
  asleep = await stack.createProject('asleep');
  await stack.suspend(asleep.computeId, 'stop');
});

after(async () => {
  await restarted?.close({ stopComputes: true });
  await createProcessDriver({ dataDir: stack.dataDir }).close({ stopComputes: true });
  await stack?.close();
});

async function selectOne(p: ProjectCredentials): Promise<number> {
  const conn = await mysql.createConnection({ host: '127.0.0.1', port: stack.proxy.port, user: `${p.project}.${p.user}`, password: p.password });
  try {
    const [rows] = await conn.query('SELECT 1 AS one');
    return (rows as Array<{ one: number }>)[0]!.one;
  } finally {
    await conn.end();
  }
}

test('with the control plane gone, an awake compute keeps serving past the cache TTL; a sleeping one gets 1429', async () => {
  assert.equal(await selectOne(awake), 1);
  await stack.cp.close({ stopComputes: false });
  await new Promise((r) => setTimeout(r, 500)); // well past the 200 ms address cache
  for (let i = 0; i < 3; i++) assert.equal(await selectOne(awake), 1);
  await assert.rejects(selectOne(asleep), (err: { errno?: number; message: string }) => {
    assert.equal(err.errno, 1429);
    assert.match(err.message, /asleep/);
    return true;
  });
});

test('a control plane back on the same address and state serves wakes again', async () => {
  restarted = await startControlPlane({ dataDir: stack.dataDir, port: stack.cp.port, logger: testLogger(), wakeTimeoutMs: 20_000 });
  assert.equal(await selectOne(asleep), 1);
  assert.equal(await selectOne(awake), 1);
});
