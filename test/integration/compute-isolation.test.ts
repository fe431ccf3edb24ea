// With cgroups, one project's load cannot take more CPU than its size: a
// compute of 0.25 CU kept busy by three CPU-bound statements uses a quarter of
// a CPU, while a neighbour answers at once. Memory limits are the sizes' too,
// and where cpusets can be used two small computes are placed on different
// CPUs. Skipped, with the reason, where the machine gives no cgroups.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import mysql from 'mysql2/promise';
import { startControlPlane, type ControlPlane } from '../../control-plane/server.js';
import { processUsage } from '../../control-plane/drivers/process-limits.js';
import { controlApi, type ApiCall } from '../helpers/control-plane-api.js';
import { computePid } from '../helpers/control-plane-compute.js';
import { cgroupsUnavailable, limitsOf } from '../helpers/compute-cgroups.js';
import { testLogger } from '../helpers/logger.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';
import { seedComputeTemplate } from '../helpers/datadir-template.js';

const noCgroups = await cgroupsUnavailable();
let dir: TempDir;
let cp: ControlPlane;
let api: ApiCall;

before(async () => {
  if (noCgroups) return;
  dir = await makeTempDir('wake-proxy-isolation-');
  await seedComputeTemplate(dir.path);
  cp = await startControlPlane({ dataDir: dir.path, logger: testLogger(), wakeTimeoutMs: 20_000 });
  api = controlApi(cp.url);
});

after(async () => {
  await cp?.close({ stopComputes: true });
  await dir?.remove();
});

async function project(name: string) {
  const res = await api('POST', '/api/v1/projects', { name, minCu: 0.25, maxCu: 0.25 });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  const c = res.body.compute;
  return { login: { host: c.host, port: c.port, user: res.body.user, password: res.body.password }, pid: await computePid(dir.path, c.id) };
}

test('a saturated 0.25 CU compute gets a quarter of a CPU; its idle neighbour keeps its own limits', { skip: noCgroups }, async (t) => {
  const busy = await project('busy');
  const quiet = await project('quiet');
  const seen = await Promise.all([busy, quiet].map((c) => limitsOf(c.pid)));
  for (const l of seen) assert.deepEqual([l?.cpus, l?.memoryBytes], [0.25, 1024 ** 3], 'each in groups of its own, at its size');
  if (seen[0]?.placedOn && availableParallelism() > 1) {
    assert.equal(seen[0].placedOn.length, 1, 'a 0.25 CU compute runs on one CPU');
    assert.notDeepEqual(seen[0].placedOn, seen[1]?.placedOn, 'its neighbour on another');
    t.diagnostic(`placed on CPUs ${seen[0].placedOn} and ${seen[1]?.placedOn}`);
  } else t.diagnostic('no CPU placement here (no cpuset controller, or one CPU)');

  // Three statements that each would take a whole CPU.
  const burners = await Promise.all([1, 2, 3].map(() => mysql.createConnection(busy.login)));
  const running = burners.map((c) => c.query('SELECT BENCHMARK(2000000000, MD5(RAND()))').catch(() => undefined));
  await new Promise((r) => setTimeout(r, 300));
  const cpu0 = (await processUsage(busy.pid)).cpuSecondsTotal!;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, 1_500));
  const cpus = ((await processUsage(busy.pid)).cpuSecondsTotal! - cpu0) / ((performance.now() - t0) / 1000);
  t.diagnostic(`busy compute: ${cpus.toFixed(3)} CPUs under 3 CPU-bound statements`);
  // A quarter of a CPU, give or take the scheduler's accounting; unlimited it would take both cores.
  assert.ok(cpus <= 0.35, `the busy compute used ${cpus.toFixed(2)} CPUs`);
  assert.ok(cpus >= 0.1, `and did run (${cpus.toFixed(2)} CPUs)`);

  // The neighbour answers promptly meanwhile.
  const q = await mysql.createConnection(quiet.login);
  const began = performance.now();
  await q.query('SELECT 1');
  const ms = performance.now() - began;
  await q.end();
  assert.ok(ms < 500, `the quiet compute answered in ${ms.toFixed(0)} ms`);
  t.diagnostic(`quiet neighbour: SELECT 1 in ${ms.toFixed(1)} ms`);

  // Stop the statements on the server too (a client that goes away leaves them running).
  const killer = await mysql.createConnection(busy.login);
  for (const c of burners) await killer.query(`KILL QUERY ${c.threadId}`);
  await Promise.all(running);
  await killer.end();
  for (const c of burners) await c.end();
});
