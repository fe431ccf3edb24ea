// The control API end to end over HTTP with real mariadbd computes: projects
// and credentials, suspend and resume, compute replacement, input checking and
// the bearer token.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { access, readFile, stat } from 'node:fs/promises';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { createProcessDriver } from '../../control-plane/drivers/process-driver.js';
import { startControlPlane, type ControlPlane } from '../../control-plane/server.js';
import { controlApi, type ApiCall } from '../helpers/control-plane-api.js';
import { computePid, portIsClosed, queryCompute } from '../helpers/control-plane-compute.js';
import { testLogger } from '../helpers/logger.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';

let dir: TempDir;
let cp: ControlPlane;
let api: ApiCall;
let shop: { user: string; password: string; computeId: string };

before(async () => {
  dir = await makeTempDir('wake-proxy-cp-api-');
  cp = await startControlPlane({ dataDir: dir.path, logger: testLogger(), wakeTimeoutMs: 20_000 });
  api = controlApi(cp.url);
});

after(async () => {
  await cp?.close({ stopComputes: true });
  await dir?.remove();
});

test('health answers without a project', async () => {
  const res = await api('GET', '/healthz');
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { ok: true, instance: cp.instance, leader: true });
});

test('creating a project returns the owner credentials once and an active compute', async (t) => {
  const started = performance.now();
  const res = await api('POST', '/api/v1/projects', { name: 'shop' });
  const ms = Math.round(performance.now() - started);
  assert.equal(res.status, 201, JSON.stringify(res.body));
  assert.deepEqual(Object.keys(res.body), ['id', 'name', 'createdAt', 'user', 'password', 'compute']);
  assert.equal(res.body.id, 'shop');
  assert.equal(res.body.user, 'owner');
  assert.match(res.body.password, /^[A-Za-z0-9_-]{32}$/);
  const c = res.body.compute;
  assert.equal(c.state, 'active');
  assert.equal(c.host, '127.0.0.1');
  assert.equal(c.resumeCount, 1);
  shop = { user: res.body.user, password: res.body.password, computeId: c.id };
  t.diagnostic(`create project (includes making the template datadir): ${ms} ms`);

  const rows = await queryCompute({ host: c.host, port: c.port, user: shop.user, password: shop.password }, 'SELECT 1 AS one');
  assert.equal(rows[0].one, 1);

  const again = await api('GET', '/api/v1/projects/shop');
  assert.equal(again.status, 200);
  assert.equal(again.body.password, undefined);
  assert.equal(again.body.compute.id, shop.computeId);
  const list = await api('GET', '/api/v1/projects');
  assert.deepEqual(list.body.projects.map((p: { id: string }) => p.id), ['shop']);

  // Only the verifier is kept, in the state store and nowhere a password could be read back; the files are private.
  const files = ['state.db', 'state.db-wal'].map((f) => join(dir.path, f));
  for (const f of files) {
    assert.ok(!(await readFile(f)).includes(shop.password), `${f} must not hold the password`);
    assert.equal((await stat(f)).mode & 0o777, 0o600, `${f} is 0600`);
  }
  const db = new Database(files[0]!, { readonly: true });
  try {
    const row = db.prepare('SELECT owner_verifier FROM projects WHERE id = ?').get('shop') as { owner_verifier: string };
    assert.match(row.owner_verifier, /^\*[0-9A-F]{40}$/);
  } finally {
    db.close();
  }
});

test('a second project of the same name is refused', async () => {
  const res = await api('POST', '/api/v1/projects', { name: 'shop' });
  assert.equal(res.status, 409);
  assert.equal(res.body.error.code, 'project_exists');
});

test('bad project names are refused with a clear message', async () => {
  for (const name of ['Shop', '1shop', 'shop_1', 'a'.repeat(40), '', 42]) {
    const res = await api('POST', '/api/v1/projects', { name });
    assert.equal(res.status, 400, `name ${JSON.stringify(name)}`);
    assert.equal(res.body.error.code, 'invalid_project_name');
    assert.match(res.body.error.message, /project name/);
  }
  const missing = await api('POST', '/api/v1/projects');
  assert.equal(missing.status, 400);
});

test('malformed requests get JSON errors with fitting statuses', async () => {
  const cases: Array<[string, string, unknown, number, string]> = [
    ['POST', '/api/v1/projects', '{"name": ', 400, 'invalid_json'],
    ['POST', '/api/v1/projects', '[1]', 400, 'invalid_body'],
    ['POST', '/api/v1/projects', { name: 'x'.repeat(70_000) }, 413, 'body_too_large'],
    ['GET', '/api/v1/projects/nope', undefined, 404, 'project_not_found'],
    ['POST', '/api/v1/projects/nope/wake', undefined, 404, 'project_not_found'],
    ['GET', '/api/v1/compute/nope-c1', undefined, 404, 'compute_not_found'],
    ['GET', '/api/v1/nothing-here', undefined, 404, 'not_found'],
    ['PUT', '/api/v1/projects', undefined, 405, 'method_not_allowed'],
    ['POST', `/api/v1/compute/shop-c1/suspend`, { tier: 'nap' }, 400, 'invalid_tier'],
    ['POST', '/api/v1/projects/shop/wake', { timeoutMs: -5 }, 400, 'invalid_timeout'],
  ];
  for (const [method, path, body, status, code] of cases) {
    const res = await api(method, path, body);
    assert.equal(res.status, status, `${method} ${path}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.error.code, code, `${method} ${path}`);
    assert.equal(typeof res.body.error.message, 'string');
  }
});

test('suspend (stop) closes the port; resume brings the compute back serving', async (t) => {
  const before = (await api('GET', `/api/v1/compute/${shop.computeId}`)).body;
  const suspended = await api('POST', `/api/v1/compute/${shop.computeId}/suspend`);
  assert.equal(suspended.status, 200);
  assert.equal(suspended.body.state, 'stopped');
  assert.equal(suspended.body.port, undefined);
  assert.ok(await portIsClosed(before.port), 'the stopped compute must not listen');

  const started = performance.now();
  const resumed = await api('POST', `/api/v1/compute/${shop.computeId}/resume`);
  t.diagnostic(`resume stopped -> active: ${Math.round(performance.now() - started)} ms`);
  assert.equal(resumed.status, 200);
  assert.equal(resumed.body.state, 'active');
  assert.equal(resumed.body.resumeCount, before.resumeCount + 1);
  const { host, port } = resumed.body;
  const rows = await queryCompute({ host, port, user: shop.user, password: shop.password }, 'SELECT 2 AS two');
  assert.equal(rows[0].two, 2);
});

test('a compute can be deleted and replaced; the owner password still works', async () => {
  const pid = await computePid(dir.path, shop.computeId);
  assert.equal((await api('DELETE', `/api/v1/compute/${shop.computeId}`)).status, 204);
  assert.throws(() => process.kill(pid, 0), 'the deleted compute must not run');
  assert.equal((await api('GET', '/api/v1/projects/shop')).body.compute, null);
  assert.equal((await api('POST', '/api/v1/projects/shop/wake')).body.error.code, 'no_compute');

  const created = await api('POST', '/api/v1/projects/shop/compute');
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.equal(created.body.id, 'shop-c2');
  assert.equal(created.body.state, 'stopped');
  assert.equal((await api('POST', '/api/v1/projects/shop/compute')).body.error.code, 'compute_exists');

  const woken = await api('POST', '/api/v1/projects/shop/wake');
  assert.equal(woken.status, 200);
  const { host, port } = woken.body.compute;
  const rows = await queryCompute({ host, port, user: shop.user, password: shop.password }, 'SELECT 3 AS three');
  assert.equal(rows[0].three, 3);
  shop.computeId = created.body.id;
});

test('deleting a project stops its compute and removes its data', async () => {
  const pid = await computePid(dir.path, shop.computeId);
  assert.equal((await api('DELETE', '/api/v1/projects/shop')).status, 204);
  assert.throws(() => process.kill(pid, 0));
  await assert.rejects(access(join(dir.path, 'computes', shop.computeId)));
  assert.equal((await api('GET', '/api/v1/projects/shop')).status, 404);
  assert.deepEqual((await api('GET', '/api/v1/projects')).body, { projects: [] });
});

test('with a token, every /api route needs it; health does not', async () => {
  const tokenDir = await makeTempDir('wake-proxy-cp-token-');
  const secured = await startControlPlane({ dataDir: tokenDir.path, token: 's3cret-token', logger: testLogger() });
  try {
    const anonymous = controlApi(secured.url);
    const wrong = controlApi(secured.url, 's3cret-tokeN');
    const right = controlApi(secured.url, 's3cret-token');
    for (const call of [anonymous, wrong]) {
      for (const [method, path] of [['GET', '/api/v1/projects'], ['POST', '/api/v1/projects/x/wake'], ['GET', '/api/v1/compute/x-c1']]) {
        const res = await call(method!, path!);
        assert.equal(res.status, 401, `${method} ${path}`);
        assert.equal(res.body.error.code, 'unauthorized');
        assert.equal(res.headers['www-authenticate'], 'Bearer');
      }
    }
    assert.equal((await right('GET', '/api/v1/projects')).status, 200);
    assert.equal((await right('POST', '/api/v1/projects/x/wake')).status, 404);
    assert.equal((await anonymous('GET', '/healthz')).status, 200);
  } finally {
    await secured.close({ stopComputes: true });
    await tokenDir.remove();
  }
});

test('a project whose compute cannot start is not kept: its password was never handed out', async () => {
  const brokenDir = await makeTempDir('wake-proxy-cp-broken-');
  const driver = createProcessDriver({ dataDir: brokenDir.path, mariadbdPath: '/nonexistent/mariadbd' });
  const broken = await startControlPlane({ dataDir: brokenDir.path, driver, logger: testLogger() });
  try {
    const call = controlApi(broken.url);
    for (let attempt = 0; attempt < 2; attempt++) {
      const res = await call('POST', '/api/v1/projects', { name: 'shop' });
      assert.equal(res.status, 503, JSON.stringify(res.body));
      assert.equal(res.body.error.code, 'compute_start_failed');
      assert.match(res.body.error.message, /project 'shop'.*\/nonexistent\/mariadbd/);
    }
    assert.deepEqual((await call('GET', '/api/v1/projects')).body, { projects: [] });
    await assert.rejects(access(join(brokenDir.path, 'computes', 'shop-c1')));
  } finally {
    await broken.close({ stopComputes: true });
    await brokenDir.remove();
  }
});
