// The autoscaler on the leader, end to end on a real compute: CPU-bound
// statements make it grow within a few samples, idleness brings it back down
// after the wait, /metrics counts each resize with its cause, and the usage
// API bills the time at the sizes it ran at.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import { startControlPlane, type ControlPlane } from '../../control-plane/server.js';
import { controlApi, type ApiCall } from '../helpers/control-plane-api.js';
import { testLogger } from '../helpers/logger.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';
import { seedComputeTemplate } from '../helpers/datadir-template.js';

let dir: TempDir;
let cp: ControlPlane;
let api: ApiCall;

before(async () => {
  dir = await makeTempDir('wake-proxy-autoscaler-');
  await seedComputeTemplate(dir.path);
  cp = await startControlPlane({
    dataDir: dir.path,
    logger: testLogger(),
    wakeTimeoutMs: 20_000,
    autoscale: { intervalMs: 500, rules: { downAfterMs: 2_000 } },
  });
  api = controlApi(cp.url);
});

after(async () => {
  await cp?.close({ stopComputes: true });
  await dir?.remove();
});

async function sizeBecomes(computeId: string, cu: number, withinMs: number): Promise<number> {
  const began = Date.now();
  for (;;) {
    const c = (await api('GET', `/api/v1/compute/${computeId}`)).body;
    if (c.cu === cu) return Date.now() - began;
    if (Date.now() - began > withinMs) throw new Error(`compute ${computeId} at ${c.cu} CU, not ${cu}, after ${withinMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('load grows a compute within seconds, idleness shrinks it after the wait; metrics and usage follow', async (t) => {
  const created = await api('POST', '/api/v1/projects', { name: 'loaded', minCu: 0.25, maxCu: 0.5 });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const c = created.body.compute;
  const login = { host: c.host, port: c.port, user: created.body.user, password: created.body.password };
  const burners = await Promise.all([1, 2].map(() => mysql.createConnection(login)));
  const running = burners.map((b) => b.query('SELECT BENCHMARK(2000000000, MD5(RAND()))').catch(() => undefined));
  const upMs = await sizeBecomes(c.id, 0.5, 10_000);
  t.diagnostic(`up to 0.5 CU ${upMs} ms after the load began`);

  const killer = await mysql.createConnection(login);
  for (const b of burners) await killer.query(`KILL QUERY ${b.threadId}`);
  await Promise.all(running);
  await Promise.all([killer, ...burners].map((x) => x.end()));
  const idleAt = Date.now();
  await sizeBecomes(c.id, 0.25, 10_000);
  const downMs = Date.now() - idleAt;
  t.diagnostic(`down to 0.25 CU ${downMs} ms after the load ended`);
  assert.ok(downMs >= 1_500, `not before the wait (${downMs} ms)`);

  const metrics = await (await fetch(`${cp.url}/metrics`)).text();
  assert.match(metrics, /^wakeproxy_autoscaler_resizes_total\{direction="up",cause="cpu"\} 1$/m);
  assert.match(metrics, /^wakeproxy_autoscaler_resizes_total\{direction="down",cause="minimum"\} 1$/m);

  await api('POST', `/api/v1/compute/${c.id}/suspend`, { tier: 'stop' });
  const usage = (await api('GET', '/api/v1/projects/loaded/usage?granularity=hour')).body;
  const hours = usage.hours as Array<{ computeSeconds: number; cuSeconds: number }>;
  const sum = (k: 'computeSeconds' | 'cuSeconds') => hours.reduce((s, h) => s + h[k], 0);
  assert.ok(Math.abs(sum('computeSeconds') - usage.computeSeconds) < 0.01 && Math.abs(sum('cuSeconds') - usage.cuSeconds) < 0.01, 'the hours add up to the total');
  // Part of the time at 0.5 CU, the rest at 0.25.
  assert.ok(usage.cuSeconds > 0.25 * usage.computeSeconds && usage.cuSeconds < 0.5 * usage.computeSeconds, JSON.stringify(usage));
});
