// A control plane that restarts finds its projects again and adopts the
// computes it left running, frozen or stopped, as they really are.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createProcessDriver } from '../../control-plane/drivers/process-driver.js';
import { startControlPlane } from '../../control-plane/server.js';
import { controlApi } from '../helpers/control-plane-api.js';
import { computePid, kernelState, queryCompute } from '../helpers/control-plane-compute.js';
import { testLogger } from '../helpers/logger.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';

let dir: TempDir;

before(async () => {
  dir = await makeTempDir('wake-proxy-cp-restart-');
});

after(async () => {
  // Whatever a failed test left running under dataDir is stopped here.
  await createProcessDriver({ dataDir: dir.path }).close({ stopComputes: true });
  await dir.remove();
});

test('projects and running computes survive a control-plane restart', async () => {
  const first = await startControlPlane({ dataDir: dir.path, logger: testLogger() });
  const api1 = controlApi(first.url);
  const creds: Record<string, { user: string; password: string; computeId: string; port: number }> = {};
  for (const name of ['keep', 'nap', 'cold']) {
    const res = await api1('POST', '/api/v1/projects', { name });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    creds[name] = { user: res.body.user, password: res.body.password, computeId: res.body.compute.id, port: res.body.compute.port };
  }
  await api1('POST', `/api/v1/compute/${creds.nap!.computeId}/suspend`, { tier: 'freeze' });
  await api1('POST', `/api/v1/compute/${creds.cold!.computeId}/suspend`, { tier: 'stop' });
  const keepPid = await computePid(dir.path, creds.keep!.computeId);
  const napPid = await computePid(dir.path, creds.nap!.computeId);
  await first.close({ stopComputes: false });

  // Computes outlive the control plane that started them.
  assert.ok(['S', 'R'].includes((await kernelState(keepPid))!), 'keep still runs');
  assert.equal(await kernelState(napPid), 'T', 'nap is still frozen');

  const second = await startControlPlane({ dataDir: dir.path, logger: testLogger() });
  try {
    const api2 = controlApi(second.url);
    const projects = (await api2('GET', '/api/v1/projects')).body.projects;
    const byName = Object.fromEntries(projects.map((p: any) => [p.id, p.compute]));
    assert.deepEqual(Object.keys(byName).sort(), ['cold', 'keep', 'nap']);
    assert.equal(byName.keep.state, 'active');
    assert.equal(byName.keep.port, creds.keep!.port);
    assert.equal(byName.nap.state, 'frozen');
    assert.equal(byName.cold.state, 'stopped');

    const keep = creds.keep!;
    const rows = await queryCompute({ host: '127.0.0.1', port: keep.port, user: keep.user, password: keep.password }, 'SELECT 1 AS one');
    assert.equal(rows[0].one, 1);
    const woken = await api2('POST', '/api/v1/projects/keep/wake');
    assert.equal(woken.body.compute.port, keep.port);
    assert.equal(woken.body.compute.resumeCount, byName.keep.resumeCount, 'an adopted active compute needs no resume');

    const thawed = await api2('POST', '/api/v1/projects/nap/wake');
    assert.equal(thawed.body.compute.port, creds.nap!.port);
    assert.equal(await computePid(dir.path, creds.nap!.computeId), napPid);
    const started = await api2('POST', '/api/v1/projects/cold/wake');
    assert.equal(started.status, 200);

    // An adopted process is not our child, yet its crash is still noticed.
    process.kill(keepPid, 'SIGKILL');
    const deadline = Date.now() + 5_000;
    let state = '';
    while (Date.now() < deadline && state !== 'failed') {
      state = (await api2('GET', `/api/v1/compute/${keep.computeId}`)).body.state;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(state, 'failed');
  } finally {
    await second.close({ stopComputes: true });
  }
  assert.equal(await kernelState(napPid), undefined, 'close({ stopComputes }) stops adopted computes too');
});

test('a corrupt state file stops the start with a clear error instead of forgetting projects', async () => {
  const broken = await makeTempDir('wake-proxy-cp-corrupt-');
  try {
    await writeFile(join(broken.path, 'state.json'), '{"version": 1, "projects": [');
    await assert.rejects(startControlPlane({ dataDir: broken.path, logger: testLogger() }), /state\.json is not valid JSON/);
  } finally {
    await broken.remove();
  }
});
