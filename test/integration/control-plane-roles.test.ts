// Accounts end to end: a real control plane (process driver, real mariadbd), users
// made with plain SQL on the compute, GET /api/v1/projects/{id}/roles?user= over
// HTTP with a bearer token, and the proxy's own client
// (control-client/control-api-verifiers.ts) checking passwords against what it serves.
// The tests run in order: each builds on the compute the previous one left.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import mysql from 'mysql2/promise';
import { pino, type Logger } from 'pino';
import { createControlApiVerifiers } from '../../control-client/control-api-verifiers.js';
import type { RoleVerifierClient } from '../../control-client/verifiers.js';
import { ownerVerifier } from '../../control-plane/owner-credentials.js';
import type { ComputeRoleOptions } from '../../control-plane/compute-roles.js';
import { startControlPlane, type ControlPlane } from '../../control-plane/server.js';
import {
  formatNativeVerifier,
  generateScramble,
  nativePasswordStage1,
  nativePasswordVerifier,
  scrambleNativePassword,
  parseNativeVerifier,
  verifyNativePassword,
} from '../../protocol/auth/native-password.js';
import { controlApi, type ApiCall } from '../helpers/control-plane-api.js';
import { portIsClosed, queryCompute, type Login } from '../helpers/control-plane-compute.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';
import { seedComputeTemplate } from '../helpers/datadir-template.js';

const TOKEN = 'roles-test-token';
const verifierOf = (password: string) => formatNativeVerifier(nativePasswordVerifier(password));

let dir: TempDir;
let cp: ControlPlane;
let api: ApiCall;
let client: RoleVerifierClient;
let owner: Login;
let computeId: string;
/** Every log line of every control plane here: verifiers and passwords must never be in one. */
const logLines: string[] = [];

function capturingLogger(): Logger {
  return pino({ level: 'debug' }, { write: (line: string) => void logLines.push(line) });
}

async function start(roles: ComputeRoleOptions): Promise<void> {
  // No health probes: their logins would add to the connection counts below.
  cp = await startControlPlane({ dataDir: dir.path, token: TOKEN, logger: capturingLogger(), wakeTimeoutMs: 20_000, roles, probe: { intervalMs: 0 } });
  api = controlApi(cp.url, TOKEN);
  // ttl 0: every get asks the control plane, so each check below sees its current answer.
  client = createControlApiVerifiers({ url: cp.url, token: TOKEN, ttlMs: 0 });
}

async function stop(opts: { stopComputes?: boolean } = {}): Promise<void> {
  await client.close();
  await cp.close(opts);
}

const role = (user: string, project = 'shop') => api('GET', `/api/v1/projects/${project}/roles?${new URLSearchParams({ user })}`);

interface ServedAccount {
  user: string;
  host: string;
  methods: Array<{ plugin: string; verifier?: string }>;
  locked: boolean;
}
/** The answer's account of that very name at host '%' (or its only one); undefined when it has none. */
function own(body: { user: string; candidates: ServedAccount[] }, host = '%'): ServedAccount | undefined {
  const mine = body.candidates.filter((c) => c.user === body.user);
  return mine.find((c) => c.host === host) ?? (mine.length === 1 ? mine[0] : undefined);
}
/** The first method of the user's own account, as the old answer showed it. */
const firstMethod = async (user: string) => own((await role(user)).body)?.methods[0];

async function computeState(): Promise<{ state: string; resumeCount: number; port?: number }> {
  return (await api('GET', `/api/v1/compute/${computeId}`)).body;
}

/** Whether `password` passes the proxy's own check against what the control plane serves for `user`. */
async function proxyAccepts(user: string, password: string): Promise<boolean> {
  const answer = await client.get('shop', user, AbortSignal.timeout(5_000));
  const served = own(answer as never)?.methods[0]?.verifier;
  assert.ok(served !== undefined, `expected a native verifier for ${user}`);
  const verifier = parseNativeVerifier(served);
  const scramble = generateScramble();
  const stage1 = verifyNativePassword(scrambleNativePassword(password, scramble), scramble, verifier);
  if (stage1) assert.deepEqual(stage1, nativePasswordStage1(password), 'the recovered stage1 logs into the compute');
  return stage1 !== null;
}

before(async () => {
  dir = await makeTempDir('wake-proxy-cp-roles-');
  await seedComputeTemplate(dir.path);
  // The sweep is out of the way here (60 s): these tests see on-demand and before-suspend reads.
  await start({ refreshIntervalMs: 60_000, onDemandIntervalMs: 1_000 });
});

after(async () => {
  await client?.close();
  await cp?.close({ stopComputes: true });
  await dir?.remove();
});

test("the owner's verifier is served from creation", async () => {
  const created = await api('POST', '/api/v1/projects', { name: 'shop' });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  owner = { host: created.body.compute.host, port: created.body.compute.port, user: created.body.user, password: created.body.password };
  computeId = created.body.compute.id;

  const res = await role('owner');
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.deepEqual(own(res.body)?.methods, [{ plugin: 'mysql_native_password', verifier: ownerVerifier(owner.password) }]);
  assert.equal(await proxyAccepts('owner', owner.password), true);
  assert.equal(await proxyAccepts('owner', owner.password + 'x'), false);
});

test('users created with plain SQL are served after an on-demand read: native, passwordless, ed25519', async () => {
  await queryCompute(owner, "INSTALL SONAME 'auth_ed25519'");
  await queryCompute(owner, "CREATE USER 'app'@'%' IDENTIFIED BY 'x'");
  await queryCompute(owner, "CREATE USER 'nopw'@'%'");
  await queryCompute(owner, "CREATE USER 'edu'@'%' IDENTIFIED VIA ed25519 USING PASSWORD('secret')");

  const app = await role('app');
  assert.equal(app.status, 200, JSON.stringify(app.body));
  assert.deepEqual(own(app.body)?.methods, [{ plugin: 'mysql_native_password', verifier: verifierOf('x') }]);
  assert.deepEqual(app.body.policy, { defaultPasswordLifetime: 0, disconnectOnExpiredPassword: false, maxPasswordErrors: 4294967295 });
  assert.deepEqual(await firstMethod('nopw'), { plugin: 'mysql_native_password', verifier: '' });
  assert.deepEqual(await firstMethod('edu'), { plugin: 'ed25519' }, 'another plugin: no verifier');

  assert.equal(await proxyAccepts('app', 'x'), true);
  assert.equal(await proxyAccepts('app', 'y'), false);
  assert.equal(await proxyAccepts('nopw', ''), true);
  assert.deepEqual(own((await client.get('shop', 'edu', AbortSignal.timeout(5_000))) as never)?.methods, [{ plugin: 'ed25519' }]);
});

test("an account with a default role is served with a role version that moves with the role's grants, read through the control account", async () => {
  for (const sql of ['CREATE ROLE IF NOT EXISTS reporting', 'GRANT PROCESS ON *.* TO reporting', "CREATE USER 'analyst'@'%' IDENTIFIED BY 'a'", "GRANT reporting TO 'analyst'@'%'", "SET DEFAULT ROLE reporting FOR 'analyst'@'%'"]) {
    await queryCompute(owner, sql);
  }
  const versions = async () => {
    const body = (await api('GET', `/api/v1/projects/shop/roles?${new URLSearchParams({ user: 'analyst', fresh: '1' })}`)).body;
    const a = own(body) as (ServedAccount & { version: string; roleVersion?: string }) | undefined;
    return { version: a?.version, roleVersion: a?.roleVersion };
  };
  const before = await versions();
  assert.ok(before.version && before.roleVersion, JSON.stringify(before));
  const app = (await role('app')).body.candidates.find((c: { user: string }) => c.user === 'app');
  assert.equal(app.roleVersion, undefined, 'no default role, none');
  // Read as the control account, whose own MAX_USER_CONNECTIONS is what a session reads as @@max_user_connections.
  assert.equal(app.resourceLimited, false, 'no limit on the account or the server');
  const updates = () => logLines.filter((l) => l.includes('compute accounts updated')).map((l) => JSON.parse(l) as { changed: number });
  const updatesBefore = updates().length;
  await queryCompute(owner, 'REVOKE PROCESS ON *.* FROM reporting');
  const after = await versions();
  assert.deepEqual(updates().slice(updatesBefore).map((u) => u.changed), [1], 'the change to the role is logged as one changed account');
  assert.equal(after.version, before.version, "the account's row did not change");
  assert.notEqual(after.roleVersion, before.roleVersion);
  assert.equal(logLines.filter((l) => l.includes('roles_mapping')).length, 0, 'the control account reads mysql.roles_mapping');
});

test('unknown users have no account of their own, the control account no method; projects 404; the token is required', async () => {
  const unknown = await role('nobody');
  assert.equal(unknown.status, 200);
  assert.deepEqual(unknown.body.candidates.filter((c: ServedAccount) => c.user !== ''), []);
  const control = own((await role('wakeproxy_ctl')).body);
  assert.deepEqual(control?.methods, [], 'the control plane account is served without its hash');
  // root@localhost: a hash no password matches, then unix_socket; mariadb.sys: locked.
  const root = (await role('root')).body.candidates.find((c: ServedAccount) => c.user === 'root' && c.host === 'localhost');
  assert.ok(root.methods.every((m: { verifier?: string }) => m.verifier === undefined), 'root is not verifiable by the proxy');
  assert.equal((await role('mariadb.sys')).body.candidates.find((c: ServedAccount) => c.user === 'mariadb.sys').locked, true);
  const noProject = await role('app', 'nope');
  assert.equal(noProject.status, 404);
  assert.equal(noProject.body.error.code, 'project_not_found');

  const signal = AbortSignal.timeout(5_000);
  assert.deepEqual((await client.get('shop', 'nobody', signal)).candidates.filter((c) => c.user !== ''), []);
  assert.deepEqual((await client.get('nope', 'app', signal)).candidates, []);

  const anonymous = await controlApi(cp.url)('GET', '/api/v1/projects/shop/roles?user=app');
  assert.equal(anonymous.status, 401);
  assert.equal(anonymous.body.error.code, 'unauthorized');
});

test('a user created a moment ago is served at once; a flood of unknown users shares a few reads', async () => {
  await queryCompute(owner, "CREATE USER 'fresh'@'%' IDENTIFIED BY 'f'");
  assert.deepEqual(await firstMethod('fresh'), { plugin: 'mysql_native_password', verifier: verifierOf('f') }, 'no wait for an interval');
  const probe = await mysql.createConnection(owner);
  try {
    const connections = async () => {
      const [rows] = await probe.query("SHOW GLOBAL STATUS LIKE 'Connections'");
      return Number((rows as Array<{ Value: string }>)[0]!.Value);
    };
    const before = await connections();
    const began = performance.now();
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => role(`ghost${i}`)));
    for (const a of answers) assert.equal(own(a.body), undefined);
    const late = await Promise.all(Array.from({ length: 10 }, (_, i) => role(`late-ghost${i}`)));
    for (const a of late) assert.equal(own(a.body), undefined);
    const reads = (await connections()) - before;
    const seconds = (performance.now() - began) / 1000;
    assert.ok(reads >= 1 && reads <= 1 + Math.ceil(seconds), `${reads} reads of the compute for 40 unknown users in ${seconds.toFixed(1)} s (at most one a second)`);
  } finally {
    await probe.end();
  }
});

test('a password changed and a user created while awake are served after a stop, without waking', async () => {
  await queryCompute(owner, "ALTER USER 'app'@'%' IDENTIFIED BY 'y'");
  await queryCompute(owner, "CREATE USER 'late'@'%' IDENTIFIED BY 'l'");
  const before = await computeState();

  const stopped = await api('POST', `/api/v1/compute/${computeId}/suspend`, { tier: 'stop' });
  assert.equal(stopped.status, 200, JSON.stringify(stopped.body));
  assert.equal(stopped.body.state, 'stopped');
  assert.ok(await portIsClosed(owner.port));

  assert.deepEqual(await firstMethod('app'), { plugin: 'mysql_native_password', verifier: verifierOf('y') });
  assert.deepEqual(await firstMethod('late'), { plugin: 'mysql_native_password', verifier: verifierOf('l') });
  assert.equal(own((await role('still-nobody')).body), undefined);
  assert.equal(await proxyAccepts('app', 'y'), true);
  assert.equal(await proxyAccepts('app', 'x'), false);
  assert.equal(await proxyAccepts('late', 'l'), true);

  const after = await computeState();
  assert.equal(after.state, 'stopped', 'role lookups never wake a compute');
  assert.equal(after.resumeCount, before.resumeCount);
});

test('roles survive a restart; the periodic read shows a change made while active', async () => {
  await stop();
  await start({ refreshIntervalMs: 300 });
  assert.deepEqual((await firstMethod('app'))?.verifier, verifierOf('y'), 'served from the state file while stopped');
  assert.equal((await computeState()).state, 'stopped');

  const woken = await api('POST', '/api/v1/projects/shop/wake');
  assert.equal(woken.status, 200, JSON.stringify(woken.body));
  owner = { ...owner, port: woken.body.compute.port };
  await sleep(500); // past the read right after the resume: only the sweep can see what follows
  await queryCompute(owner, "ALTER USER 'app'@'%' IDENTIFIED BY 'z'");
  const changedAt = performance.now();
  let verifier: string | undefined;
  while (performance.now() - changedAt < 5_000) {
    verifier = (await firstMethod('app'))?.verifier;
    if (verifier === verifierOf('z')) break;
    await sleep(50);
  }
  assert.equal(verifier, verifierOf('z'), 'the new password shows within a few sweep intervals');
  assert.equal(await proxyAccepts('app', 'z'), true);
  const dropped = await queryCompute(owner, "DROP USER 'late'@'%'").then(async () => {
    const began = performance.now();
    while (performance.now() - began < 5_000 && own((await role('late')).body)) await sleep(50);
    return own((await role('late')).body);
  });
  assert.equal(dropped, undefined, 'a dropped user stops being served');
});

test('a compute provisioned before control accounts serves its owner only', async () => {
  await stop(); // the compute stays running; the next control plane adopts it
  const db = new Database(join(dir.path, 'state.db'));
  const row = db.prepare('SELECT control_user, control_password FROM computes WHERE id = ?').get(computeId) as { control_user: string; control_password: string };
  const control = { user: row.control_user, password: row.control_password };
  assert.equal(control.user, 'wakeproxy_ctl');

  // Nothing secret reached a log line: no verifier served above, not the control password.
  const secrets = [control.password, verifierOf('x'), verifierOf('y'), verifierOf('z'), verifierOf('l'), ownerVerifier(owner.password)];
  for (const line of logLines) for (const s of secrets) assert.ok(!line.includes(s.slice(1)), `log line holds a secret: ${line}`);

  // As a compute provisioned before control accounts: no login, nothing read.
  db.prepare('UPDATE computes SET control_user = NULL, control_password = NULL WHERE id = ?').run(computeId);
  db.prepare('DELETE FROM compute_accounts WHERE compute_id = ?').run(computeId);
  db.close();
  await start({ refreshIntervalMs: 300 });
  assert.equal((await computeState()).state, 'active');
  assert.deepEqual((await firstMethod('owner'))?.verifier, ownerVerifier(owner.password));
  assert.equal(own((await role('app')).body), undefined);
  await sleep(400);
  assert.equal(own((await role('app')).body), undefined, 'no sweep can read it either');
  assert.equal(
    logLines.filter((l) => l.includes('has no control account')).length,
    1,
    'said once in the log',
  );
});
