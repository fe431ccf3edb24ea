// A control plane that restarts finds its projects again (state in SQLite),
// every usage record, and adopts the computes it left running, frozen or
// stopped, as they really are.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, writeFile } from 'node:fs/promises';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { createProcessDriver } from '../../control-plane/drivers/process-driver.js';
import { startControlPlane } from '../../control-plane/server.js';
import { controlApi } from '../helpers/control-plane-api.js';
import { computePid, kernelState, queryCompute } from '../helpers/control-plane-compute.js';
import { testLogger } from '../helpers/logger.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';
import { LEGACY_EVENTS, LEGACY_STATE } from '../helpers/legacy-state.js';

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
  // Usage up to a fixed moment must read the same after the restart.
  const until = new Date().toISOString();
  const usageBefore: Record<string, number> = {};
  for (const name of Object.keys(creds)) usageBefore[name] = (await api1('GET', `/api/v1/projects/${name}/usage?to=${until}`)).body.computeSeconds;
  await first.close({ stopComputes: false });
  const db = new Database(join(dir.path, 'state.db'), { readonly: true });
  const eventsBefore = db.prepare('SELECT COUNT(*) AS n FROM compute_events').get() as { n: number };

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
    for (const name of Object.keys(creds)) {
      const usage = (await api2('GET', `/api/v1/projects/${name}/usage?to=${until}`)).body;
      assert.ok(usageBefore[name]! > 0, `${name} ran`);
      assert.equal(usage.computeSeconds, usageBefore[name], `usage of ${name} survives the restart`);
    }
    assert.ok((db.prepare('SELECT COUNT(*) AS n FROM compute_events').get() as { n: number }).n >= eventsBefore.n, 'no usage record lost');
    db.close();

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

test('a data directory from before the state store is imported at the first start', async () => {
  const old = await makeTempDir('wake-proxy-cp-legacy-');
  try {
    await writeFile(join(old.path, 'state.json'), JSON.stringify(LEGACY_STATE, null, 2), { mode: 0o600 });
    await writeFile(join(old.path, 'usage-events.jsonl'), LEGACY_EVENTS, { mode: 0o600 });
    const cp = await startControlPlane({ dataDir: old.path, logger: testLogger() });
    try {
      const api = controlApi(cp.url);
      const projects = (await api('GET', '/api/v1/projects')).body.projects;
      assert.deepEqual(projects.map((p: any) => p.id), ['shop', 'blog']);
      // shop-c1 was frozen when the old control plane stopped, but no process runs: seen as it is.
      assert.equal(projects[0].compute.state, 'stopped');
      assert.equal(projects[0].compute.resumeCount, 4);
      const range = '?from=1970-01-01T00:00:00Z&to=1970-01-01T00:02:00Z';
      assert.equal((await api('GET', `/api/v1/projects/shop/usage${range}`)).body.computeSeconds, 15);
      assert.equal((await api('GET', `/api/v1/projects/blog/usage${range}`)).body.computeSeconds, 3);
      const role = (await api('GET', '/api/v1/projects/shop/roles?user=app')).body;
      assert.equal(role.candidates[0].user, 'app', 'the accounts read before are served');
    } finally {
      await cp.close();
    }
    assert.deepEqual((await readdir(old.path)).filter((f) => f.includes('.json')).sort(), ['state.json.imported', 'usage-events.jsonl.imported']);
  } finally {
    await old.remove();
  }
});
