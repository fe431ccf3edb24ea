// Waking through the control API with real mariadbd computes: coalescing,
// ordering against a suspend, the freeze tier, crashes, timeouts, and a compute
// that cannot start.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startControlPlane, type ControlPlane } from '../../control-plane/server.js';
import { controlApi, type ApiCall } from '../helpers/control-plane-api.js';
import { computePid, kernelState, queryCompute } from '../helpers/control-plane-compute.js';
import { testLogger } from '../helpers/logger.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';
import { seedComputeTemplate } from '../helpers/datadir-template.js';

let dir: TempDir;
let cp: ControlPlane;
let api: ApiCall;
let owner: { user: string; password: string };
let computeId: string;

before(async () => {
  dir = await makeTempDir('wake-proxy-cp-wake-');
  await seedComputeTemplate(dir.path);
  cp = await startControlPlane({ dataDir: dir.path, logger: testLogger(), wakeTimeoutMs: 20_000 });
  api = controlApi(cp.url);
  const res = await api('POST', '/api/v1/projects', { name: 'shop' });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  owner = { user: res.body.user, password: res.body.password };
  computeId = res.body.compute.id;
});

after(async () => {
  await cp?.close({ stopComputes: true });
  await dir?.remove();
});

const compute = async () => (await api('GET', `/api/v1/compute/${computeId}`)).body;
const suspend = (tier: 'freeze' | 'stop') => api('POST', `/api/v1/compute/${computeId}/suspend`, { tier });

async function waitForState(state: string, timeoutMs: number): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const c = await compute();
    if (c.state === state || Date.now() > deadline) return c;
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('twenty concurrent wakes of a stopped project cause one resume and get one address', async (t) => {
  assert.equal((await suspend('stop')).body.state, 'stopped');
  const before = await compute();
  const started = performance.now();
  const answers = await Promise.all(Array.from({ length: 20 }, () => api('POST', '/api/v1/projects/shop/wake')));
  t.diagnostic(`20 wakes of a stopped compute answered in ${Math.round(performance.now() - started)} ms`);
  for (const a of answers) {
    assert.equal(a.status, 200, JSON.stringify(a.body));
    assert.equal(a.body.project, 'shop');
    assert.equal(a.body.compute.state, 'active');
  }
  assert.equal(new Set(answers.map((a) => `${a.body.compute.host}:${a.body.compute.port}`)).size, 1);
  assert.equal((await compute()).resumeCount, before.resumeCount + 1);
  const { host, port } = answers[0]!.body.compute;
  assert.equal((await queryCompute({ host, port, ...owner }, 'SELECT 1 AS one'))[0].one, 1);
});

test('a wake during a suspend waits for the suspend, then resumes', async () => {
  const before = await compute();
  // Called on the service directly so the suspend is surely first in line.
  const suspending = cp.service.suspendCompute(computeId, 'stop');
  const waking = cp.service.wakeProject('shop');
  const [suspended, woken] = await Promise.all([suspending, waking]);
  assert.equal(suspended.state, 'stopped');
  assert.equal(woken.compute.state, 'active');
  const after = await compute();
  assert.equal(after.state, 'active');
  assert.equal(after.resumeCount, before.resumeCount + 1);
  assert.equal((await queryCompute({ host: after.host, port: after.port, ...owner }, 'SELECT 1 AS one'))[0].one, 1);
});

test('freeze stops the process in the kernel; a wake thaws the same process at once', async (t) => {
  const before = await compute();
  const pid = await computePid(dir.path, computeId);
  const frozen = await suspend('freeze');
  assert.equal(frozen.body.state, 'frozen');
  assert.equal(frozen.body.port, undefined);
  assert.equal(await kernelState(pid), 'T');

  const started = performance.now();
  const woken = await api('POST', '/api/v1/projects/shop/wake');
  t.diagnostic(`wake frozen -> active: ${(performance.now() - started).toFixed(1)} ms`);
  assert.equal(woken.status, 200);
  assert.equal(woken.body.compute.port, before.port, 'a thawed compute keeps its address');
  assert.equal(await computePid(dir.path, computeId), pid, 'a thaw is not a restart');
  assert.notEqual(await kernelState(pid), 'T');
  assert.equal((await queryCompute({ host: before.host, port: before.port, ...owner }, 'SELECT 1 AS one'))[0].one, 1);
});

test('a stop of a frozen compute thaws it first and ends it', async () => {
  const pid = await computePid(dir.path, computeId);
  await suspend('freeze');
  assert.equal((await suspend('stop')).body.state, 'stopped');
  assert.equal(await kernelState(pid), undefined);
});

test('a wake that outlasts its timeout gets 504, and the start goes on', async () => {
  const res = await api('POST', '/api/v1/projects/shop/wake', { timeoutMs: 1 });
  assert.equal(res.status, 504, JSON.stringify(res.body));
  assert.equal(res.body.error.code, 'wake_timeout');
  assert.match(res.body.error.message, /project 'shop'/);
  assert.equal((await waitForState('active', 10_000)).state, 'active');
});

test('a compute that crashes is reported failed and the next wake starts it again', async () => {
  const pid = await computePid(dir.path, computeId);
  process.kill(pid, 'SIGKILL');
  const failed = await waitForState('failed', 5_000);
  assert.equal(failed.state, 'failed');
  assert.match(failed.lastError, /exited unexpectedly/);
  const woken = await api('POST', '/api/v1/projects/shop/wake');
  assert.equal(woken.status, 200);
  assert.notEqual(await computePid(dir.path, computeId), pid);
  const { host, port } = woken.body.compute;
  assert.equal((await queryCompute({ host, port, ...owner }, 'SELECT 1 AS one'))[0].one, 1);
});

test('a compute that cannot start answers every waiting wake with 503 naming the project and cause', async () => {
  await suspend('stop');
  const data = join(dir.path, 'computes', computeId, 'data');
  await rm(data, { recursive: true, force: true });
  await writeFile(data, 'not a datadir\n');
  const before = await compute();

  const answers = await Promise.all(Array.from({ length: 5 }, () => api('POST', '/api/v1/projects/shop/wake')));
  for (const a of answers) {
    assert.equal(a.status, 503, JSON.stringify(a.body));
    assert.equal(a.body.error.code, 'compute_start_failed');
    assert.match(a.body.error.message, /project 'shop'/);
    assert.match(a.body.error.message, new RegExp(computeId));
    assert.match(a.body.error.message, /Not a directory/);
  }
  const after = await compute();
  assert.equal(after.state, 'failed');
  assert.match(after.lastError, /Not a directory/);
  assert.equal(after.resumeCount, before.resumeCount + 1, 'the failing start is shared too');
});
