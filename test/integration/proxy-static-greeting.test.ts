// A proxy in front of a static backend greets even its first client as the backend
// does (its version and default collation, here utf8mb4_general_ci rather than the
// built-in profile's latin1), since it reads the backend's greeting before it accepts
// anyone: with --accounts-user by logging in as that account, which the server counts
// as nothing; without it, in passthrough, from the connection it opens when the client
// connects, or, with --connect-at-accept off, from a connection closed after the
// greeting, one aborted connect. A backend that is down at the start does not keep the
// proxy from starting: it warns once, and serves once the backend is up. Its own read
// comes before the greeting proxies sharing Redis stored, which it then replaces.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import { Redis } from 'ioredis';
import { startStandaloneMariadb, type StandaloneMariadb } from '../helpers/standalone-mariadb.js';
import { startProxyProcess, type ProxyProcess } from '../helpers/proxy-process.js';
import { READER, READER_SQL } from '../helpers/mode-proxies.js';
import { connectBackend } from '../../backend/connect.js';
import { findFreePort } from '../../control-plane/drivers/free-port.js';
import { UTF8MB4_GENERAL_CI, type Greeting } from '../../protocol/index.js';
import { startRedis } from '../helpers/redis-server.js';
import { SHARED_GREETING_KEY } from '../../proxy/shared-greeting.js';
import { formatGreetingFacts, parseGreetingFacts } from '../../backend/greeting-facts.js';

const UTF8MB4_SERVER = ['--character-set-server=utf8mb4', '--collation-server=utf8mb4_general_ci'];
const READER_FLAGS = ['--accounts-user', READER.user, '--accounts-password', READER.password];
const NOT_READ = "could not read the backend's greeting at start";

let db: StandaloneMariadb;
/** The server's own version string, as its greeting says it. */
let version: string;
let admin: mysql.Connection;
before(async () => {
  db = await startStandaloneMariadb('app', 'app-secret', READER_SQL, UTF8MB4_SERVER);
  admin = await mysql.createConnection({ host: db.host, port: db.port, user: db.user, password: db.password });
  const [rows] = await admin.query<mysql.RowDataPacket[]>('SELECT VERSION() AS v');
  version = `5.5.5-${rows[0]!.v as string}`;
});
after(async () => {
  await admin?.end();
  await db?.stop();
});

/** What the server counted: failed connects, and connections it accepted. */
async function counted(): Promise<{ aborted: number; preauth: number; connections: number }> {
  const [rows] = await admin.query<mysql.RowDataPacket[]>(
    "SHOW GLOBAL STATUS WHERE Variable_name IN ('Aborted_connects', 'Aborted_connects_preauth', 'Connections')",
  );
  const v = Object.fromEntries(rows.map((r) => [r.Variable_name as string, Number(r.Value)]));
  return { aborted: v.Aborted_connects!, preauth: v.Aborted_connects_preauth!, connections: v.Connections! };
}

/** The greeting a client of `port` gets (read, then the connection dropped). */
async function greetingOf(port: number): Promise<Greeting> {
  const conn = await connectBackend({ host: '127.0.0.1', port }, 3_000);
  conn.socket.destroy();
  return conn.greeting;
}

async function withProxy<T>(flags: string[], use: (p: ProxyProcess) => Promise<T>): Promise<T> {
  const proxy = await startProxyProcess(['--backend', `${db.host}:${db.port}`, ...flags]);
  try {
    return await use(proxy);
  } finally {
    await proxy.kill('SIGTERM');
  }
}

const LOGIN_READ: Record<string, string[]> = {
  'pipe (verified)': ['--pool-mode', 'pipe', ...READER_FLAGS],
  session: ['--pool-mode', 'session', ...READER_FLAGS],
  transaction: ['--pool-mode', 'transaction', ...READER_FLAGS],
  'pipe (passthrough) with --accounts-user': READER_FLAGS,
};

for (const [mode, flags] of Object.entries(LOGIN_READ)) {
  test(`${mode}: the first client's greeting is the backend's, read at the start by a login the server counts as no failed connect`, async () => {
    const before = await counted();
    await withProxy(flags, async (proxy) => {
      const started = await counted();
      // The reader's login, which said COM_QUIT: one connection, nothing aborted.
      assert.deepEqual(started, { ...before, connections: before.connections + 1 });
      const g = await greetingOf(proxy.port);
      assert.equal(g.charset, UTF8MB4_GENERAL_CI);
      assert.equal(g.serverVersion, version);
      assert.equal((await proxy.settledLines()).filter((l) => l.includes(NOT_READ)).length, 0);
    });
  });
}

test('pipe (passthrough), connecting at accept: nothing read at the start, the first client greeted after the connection its arrival opened', async () => {
  await withProxy([], async (proxy) => {
    const started = await counted();
    const g = await greetingOf(proxy.port);
    assert.equal(g.charset, UTF8MB4_GENERAL_CI);
    assert.equal(g.serverVersion, version);
    // The start itself connected nowhere: the one connection is the client's, opened at accept.
    assert.equal((await counted()).connections, started.connections + 1);
  });
});

test('pipe (passthrough), --connect-at-accept false: the greeting read from a connection closed after it, which the server counts as one aborted connect', async () => {
  const before = await counted();
  await withProxy(['--connect-at-accept', 'false'], async (proxy) => {
    const started = await counted();
    assert.deepEqual(started, { aborted: before.aborted + 1, preauth: before.preauth + 1, connections: before.connections + 1 });
    const g = await greetingOf(proxy.port);
    assert.equal(g.charset, UTF8MB4_GENERAL_CI);
    assert.equal(g.serverVersion, version);
    // Greeting a client opened nothing on the server.
    assert.deepEqual(await counted(), started);
  });
});

test('a proxy started while its backend is down starts, warns once, and serves once the backend is up', async () => {
  const port = await findFreePort();
  const proxy = await startProxyProcess(['--backend', `127.0.0.1:${port}`, '--pool-mode', 'session', ...READER_FLAGS, '--connect-timeout', '2s']);
  let late: StandaloneMariadb | undefined;
  try {
    const warned = await proxy.records((r) => r.msg.startsWith(NOT_READ), 1);
    assert.equal(warned.length, 1);
    assert.equal(warned[0]!.level, 40);
    // Until a login shows it a compute, the built-in profile.
    assert.notEqual((await greetingOf(proxy.port)).charset, UTF8MB4_GENERAL_CI);
    late = await startStandaloneMariadb('app', 'app-secret', READER_SQL, UTF8MB4_SERVER, port);
    const c = await mysql.createConnection({ host: '127.0.0.1', port: proxy.port, user: 'app', password: 'app-secret' });
    try {
      const [rows] = await c.query<mysql.RowDataPacket[]>('SELECT @@port AS p');
      assert.equal(Number(rows[0]!.p), port);
    } finally {
      await c.end();
    }
    // Learned at that login.
    assert.equal((await greetingOf(proxy.port)).charset, UTF8MB4_GENERAL_CI);
    assert.equal((await proxy.settledLines()).filter((l) => l.includes(NOT_READ)).length, 1);
  } finally {
    await proxy.kill('SIGTERM');
    await late?.stop();
  }
});

test('with --redis, the backend read at the start comes before the greeting stored in Redis, and replaces it there', async () => {
  const redis = await startRedis();
  const store = new Redis(redis.url);
  try {
    const other = { serverVersion: '5.5.5-10.6.1-MariaDB-other', capabilities: 0x81fff7de, mariadbCapabilities: 0x1d, charset: 8 };
    await store.set(SHARED_GREETING_KEY, formatGreetingFacts(other, 1));
    await withProxy(['--pool-mode', 'session', ...READER_FLAGS, '--redis', redis.url], async (proxy) => {
      const g = await greetingOf(proxy.port);
      assert.equal(g.charset, UTF8MB4_GENERAL_CI);
      assert.equal(g.serverVersion, version);
      const until = performance.now() + 5_000;
      let stored = parseGreetingFacts((await store.get(SHARED_GREETING_KEY))!);
      while (stored.charset !== UTF8MB4_GENERAL_CI && performance.now() < until) {
        await new Promise((r) => setTimeout(r, 20));
        stored = parseGreetingFacts((await store.get(SHARED_GREETING_KEY))!);
      }
      assert.equal(stored.serverVersion, version);
      assert.equal(stored.charset, UTF8MB4_GENERAL_CI);
    });
  } finally {
    store.disconnect();
    await redis.close();
  }
});
