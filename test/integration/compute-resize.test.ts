// Resizing a real compute without a restart: the buffer pool and
// max_connections change online (grown after the limits go up, shrunk before
// they come down), the cgroup limits follow where the machine allows them,
// queries keep running throughout, and the process is the same one after.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import { startControlPlane, type ControlPlane } from '../../control-plane/server.js';
import { controlApi, type ApiCall } from '../helpers/control-plane-api.js';
import { computePid } from '../helpers/control-plane-compute.js';
import { cgroupsUnavailable, limitsOf } from '../helpers/compute-cgroups.js';
import { testLogger } from '../helpers/logger.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';
import { seedComputeTemplate } from '../helpers/datadir-template.js';

const GiB = 1024 ** 3;

let dir: TempDir;
let cp: ControlPlane;
let api: ApiCall;
let noCgroups: string | undefined;

before(async () => {
  noCgroups = await cgroupsUnavailable();
  dir = await makeTempDir('wake-proxy-resize-');
  await seedComputeTemplate(dir.path);
  cp = await startControlPlane({ dataDir: dir.path, logger: testLogger(), wakeTimeoutMs: 20_000 });
  api = controlApi(cp.url);
});

after(async () => {
  await cp?.close({ stopComputes: true });
  await dir?.remove();
});

async function settings(conn: mysql.Connection): Promise<{ pool: number; conns: number; pages: number; pageSize: number }> {
  const [rows] = await conn.query<mysql.RowDataPacket[]>(
    "SELECT @@innodb_buffer_pool_size AS pool, @@max_connections AS conns, @@innodb_page_size AS page, (SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'INNODB_BUFFER_POOL_PAGES_TOTAL') AS pages",
  );
  const r = rows[0]!;
  return { pool: Number(r.pool), conns: Number(r.conns), pages: Number(r.pages), pageSize: Number(r.page) };
}

test('a compute grows and shrinks online: pool, connections and limits change, queries keep running', async (t) => {
  const created = await api('POST', '/api/v1/projects', { name: 'elastic', minCu: 0.25, maxCu: 1 });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const c = created.body.compute;
  assert.equal(c.cu, 0.25, 'a compute starts at its minimum');
  const shown = await api('GET', `/api/v1/compute/${c.id}`);
  assert.deepEqual([shown.body.cu, shown.body.minCu, shown.body.maxCu], [0.25, 0.25, 1]);

  const login = { host: c.host, port: c.port, user: created.body.user, password: created.body.password };
  const conn = await mysql.createConnection(login);
  t.after(() => conn.end());
  const pid = await computePid(dir.path, c.id);
  assert.deepEqual(await settings(conn).then((s) => [s.pool, s.conns]), [GiB / 2, 1000], 'started with the pool and connections of 0.25 CU');
  if (!noCgroups) assert.deepEqual(await limitsOf(pid).then((l) => [l?.cpus, l?.memoryBytes]), [0.25, 1 * GiB]);

  // A client keeps working through both resizes, on a connection opened before them.
  const worker = await mysql.createConnection(login);
  t.after(() => worker.end());
  await worker.query('CREATE DATABASE app');
  await worker.query('CREATE TABLE app.t (id INT PRIMARY KEY AUTO_INCREMENT, v VARCHAR(100))');
  let running = true;
  let statements = 0;
  const load = (async () => {
    while (running) {
      await worker.query("INSERT INTO app.t (v) VALUES (REPEAT('x', 100))");
      await worker.query('SELECT COUNT(*) FROM app.t');
      statements += 2;
    }
  })();

  const up = await cp.service.resizeCompute(c.id, 1000);
  assert.equal(up?.toMilli, 1000);
  const grown = await settings(conn);
  assert.deepEqual([grown.pool, grown.conns], [2 * GiB, 2500]);
  assert.ok(grown.pages * grown.pageSize > 1.8 * GiB, `the pool has its pages (${grown.pages})`);
  if (noCgroups) t.diagnostic(`limits not checked: ${noCgroups}`);
  else {
    assert.deepEqual(await limitsOf(pid).then((l) => [l?.cpus, l?.memoryBytes]), [1, 4 * GiB]);
    assert.equal(up?.limits.enforced, true);
  }
  const before = statements;
  await new Promise((r) => setTimeout(r, 200));
  assert.ok(statements > before, 'statements run while at the new size');

  const down = await cp.service.resizeCompute(c.id, 250);
  assert.equal(down?.toMilli, 250);
  const shrunk = await settings(conn);
  assert.deepEqual([shrunk.pool, shrunk.conns], [GiB / 2, 1000]);
  assert.ok(shrunk.pages * shrunk.pageSize <= GiB / 2, `the pool gave its pages back (${shrunk.pages})`);
  if (!noCgroups) assert.deepEqual(await limitsOf(pid).then((l) => [l?.cpus, l?.memoryBytes]), [0.25, 1 * GiB]);

  running = false;
  await load;
  assert.ok(statements > 10, `the client ran ${statements} statements across the resizes, none failed`);
  assert.equal(await computePid(dir.path, c.id), pid, 'the same process: no restart');
  const after = await api('GET', `/api/v1/compute/${c.id}`);
  assert.equal(after.body.cu, 0.25);
  assert.equal(after.body.resumeCount, 1);
});

test('a range change moves a running compute into it at once; a bad range is refused', async () => {
  const created = await api('POST', '/api/v1/projects', { name: 'ranged' });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.deepEqual([created.body.compute.cu, (await api('GET', '/api/v1/projects/ranged')).body.maxCu], [0.25, 1], 'the default range is 0.25-1');
  const patched = await api('PATCH', '/api/v1/projects/ranged', { minCu: 0.5 });
  assert.equal(patched.status, 200, JSON.stringify(patched.body));
  assert.deepEqual([patched.body.minCu, patched.body.maxCu, patched.body.compute.cu], [0.5, 1, 0.5]);
  for (const bad of [{ minCu: 0.3 }, { maxCu: 17 }, { minCu: 1, maxCu: 0.5 }, { minCu: '1' }, { size: 1 }, { quota: { cuHours: 1 } }]) {
    const res = await api('PATCH', '/api/v1/projects/ranged', bad);
    assert.equal(res.status, 400, `${JSON.stringify(bad)}: ${JSON.stringify(res.body)}`);
  }
  const stopped = await api('POST', `/api/v1/compute/${created.body.compute.id}/suspend`, { tier: 'stop' });
  assert.equal(stopped.body.cu, 0.5, 'a stopped compute shows the size it ran at last');
  const resumed = await api('POST', `/api/v1/compute/${created.body.compute.id}/resume`);
  assert.equal(resumed.body.cu, 0.5, 'it starts again at its minimum');
});
