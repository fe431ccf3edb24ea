// The proxy's own login to a compute with a recovered stage1, against a real mariadbd.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { nativePasswordStage1 } from '../../protocol/auth/native-password.js';
import { CLIENT_OPTIONAL_RESULTSET_METADATA, CLIENT_SESSION_TRACK } from '../../protocol/constants.js';
import { readSessionState } from '../../protocol/session-state.js';
import { BackendLoginError, loginBackend, poolCapabilities, type LoggedInBackend } from '../../backend/login.js';
import { startStandaloneMariadb, type StandaloneMariadb } from '../helpers/standalone-mariadb.js';
import { CLIENT_CAPS, exec, keyFor, scalar } from './pool-support.js';

let db: StandaloneMariadb;
let admin: LoggedInBackend;
const target = (b: LoggedInBackend) => ({ socket: b.socket, capabilities: CLIENT_CAPS, mariadbCapabilities: 0 });

before(async () => {
  db = await startStandaloneMariadb('app', 'app-secret');
  admin = await loginBackend(keyFor(db), nativePasswordStage1('app-secret'), { timeoutMs: 5_000 });
  for (const sql of [
    'CREATE DATABASE shop',
    "CREATE USER nopass@'%'",
    // unix_socket fails over TCP, so the server moves on to mysql_native_password with an auth switch.
    "CREATE USER sw@'%' IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD('sw-secret')",
    "INSTALL SONAME 'auth_ed25519'",
    "CREATE USER ed@'%' IDENTIFIED VIA ed25519 USING PASSWORD('ed-secret')",
  ]) {
    await exec(target(admin), sql);
  }
});

after(async () => {
  admin?.socket.destroy();
  await db?.stop();
});

test('logs in with stage1 and the chosen database, leaving the socket paused and clean', async () => {
  const b = await loginBackend(keyFor(db, { database: 'shop' }), nativePasswordStage1('app-secret'), { timeoutMs: 5_000 });
  try {
    assert.equal(b.socket.isPaused(), true);
    assert.equal(await scalar(target(b), 'SELECT CURRENT_USER()'), 'app@%');
    assert.equal(await scalar(target(b), 'SELECT DATABASE()'), 'shop');
    assert.equal(await scalar(target(b), 'SELECT CONNECTION_ID()'), String(b.greeting.connectionId));
    assert.equal(await scalar(target(b), '-- charset from the key\nSELECT @@character_set_client'), 'utf8mb4');
  } finally {
    b.socket.destroy();
  }
});

test("the compute's login OK session state is kept as it sent it: the schema a login names (10.11 reports no variables), nothing without one or without CLIENT_SESSION_TRACK", async () => {
  const stage1 = nativePasswordStage1('app-secret');
  const reported = (state: Buffer | null) => {
    if (!state) return null;
    const seen: string[] = [];
    readSessionState(state, 0, state.length, {
      variable: (name, value) => seen.push(`${name}=${value}`),
      schema: (name) => seen.push(`schema ${name}`),
      stateChanged: () => seen.push('state'),
      other: (type) => seen.push(`type ${type}`),
    });
    return seen;
  };
  const untracked = poolCapabilities(CLIENT_CAPS & ~CLIENT_SESSION_TRACK, 'shop');
  const logins = [
    loginBackend(keyFor(db, { database: 'shop' }), stage1, { timeoutMs: 5_000 }),
    loginBackend(keyFor(db), stage1, { timeoutMs: 5_000 }),
    loginBackend(keyFor(db, { database: 'shop', capabilities: untracked }), stage1, { timeoutMs: 5_000 }),
  ];
  const [named, none, notTracked] = await Promise.all(logins);
  try {
    assert.deepEqual(reported(named!.loginState), ['schema shop']);
    assert.equal(none!.loginState, null);
    assert.equal(notTracked!.loginState, null);
  } finally {
    for (const b of [named, none, notTracked]) b!.socket.destroy();
  }
});

test("a wrong stage1 fails with the compute's 1045, naming compute and user but no secret", async () => {
  const wrong = nativePasswordStage1('not-the-password');
  await assert.rejects(loginBackend(keyFor(db), wrong, { timeoutMs: 5_000 }), (err: Error) => {
    assert.ok(err instanceof BackendLoginError);
    assert.equal(err.kind, 'denied');
    assert.equal(err.serverError?.code, 1045);
    assert.equal(err.serverError?.sqlState, '28000');
    assert.match(err.message, /login to compute c-test \(127\.0\.0\.1:\d+\) as 'app' failed: 1045/);
    assert.ok(!err.message.includes(wrong.toString('hex')));
    assert.ok(!err.message.includes(nativePasswordStage1('app-secret').toString('hex')));
    return true;
  });
});

test('a passwordless account logs in with an empty stage1', async () => {
  const b = await loginBackend(keyFor(db, { user: 'nopass' }), Buffer.alloc(0), { timeoutMs: 5_000 });
  try {
    assert.equal(await scalar(target(b), 'SELECT CURRENT_USER()'), 'nopass@%');
  } finally {
    b.socket.destroy();
  }
});

test('follows an auth switch to mysql_native_password', async () => {
  const b = await loginBackend(keyFor(db, { user: 'sw' }), nativePasswordStage1('sw-secret'), { timeoutMs: 5_000 });
  try {
    assert.equal(await scalar(target(b), 'SELECT CURRENT_USER()'), 'sw@%');
  } finally {
    b.socket.destroy();
  }
  await assert.rejects(
    loginBackend(keyFor(db, { user: 'sw' }), nativePasswordStage1('nope'), { timeoutMs: 5_000 }),
    (err: Error) => err instanceof BackendLoginError && err.kind === 'denied',
  );
});

test('an account on another plugin cannot be logged into with a verifier', async () => {
  await assert.rejects(
    loginBackend(keyFor(db, { user: 'ed' }), nativePasswordStage1('ed-secret'), { timeoutMs: 5_000 }),
    (err: Error) => {
      assert.ok(err instanceof BackendLoginError);
      assert.equal(err.kind, 'unsupported');
      assert.match(err.message, /asks for auth plugin 'client_ed25519'/);
      return true;
    },
  );
});

test('capabilities the compute lacks are refused, not negotiated away', async () => {
  const key = keyFor(db, { capabilities: (CLIENT_CAPS | CLIENT_OPTIONAL_RESULTSET_METADATA) >>> 0 });
  await assert.rejects(loginBackend(key, nativePasswordStage1('app-secret'), { timeoutMs: 5_000 }), (err: Error) => {
    assert.ok(err instanceof BackendLoginError);
    assert.equal(err.kind, 'unsupported');
    assert.match(err.message, /lacks capabilities the client negotiated \(0x2000000/);
    return true;
  });
});

test('a compute that accepts but never greets fails within the bound', async () => {
  const sockets: Socket[] = [];
  const silent: Server = createServer((s) => sockets.push(s));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const port = (silent.address() as { port: number }).port;
  try {
    const started = Date.now();
    await assert.rejects(
      loginBackend(keyFor(db, { addr: { host: '127.0.0.1', port } }), nativePasswordStage1('x'), { timeoutMs: 300 }),
      (err: Error) => err instanceof BackendLoginError && err.kind === 'failed' && err.message.includes(`127.0.0.1:${port}`),
    );
    assert.ok(Date.now() - started < 2_000);
  } finally {
    for (const s of sockets) s.destroy();
    silent.close();
  }
});

test('a closed port and an aborted login fail cleanly', async () => {
  await assert.rejects(
    loginBackend(keyFor(db, { addr: { host: '127.0.0.1', port: 1 } }), nativePasswordStage1('x'), { timeoutMs: 2_000 }),
    (err: Error) => err instanceof BackendLoginError && err.kind === 'failed' && /127\.0\.0\.1:1/.test(err.message),
  );
  const ac = new AbortController();
  ac.abort(new Error('client went away'));
  await assert.rejects(
    loginBackend(keyFor(db), nativePasswordStage1('app-secret'), { timeoutMs: 2_000 }, ac.signal),
    BackendLoginError,
  );
});
