// With a control plane the proxy greets a client before its handshake names a project,
// so it cannot read that compute's greeting first. It greets as the compute the control
// plane last started greets (GET /api/v1/greeting), then as the last compute it met
// itself; proxies sharing Redis (--redis) pass what they learned to the proxies that
// start after them. Only before the control plane has started any compute does a proxy
// greet with its built-in profile (latin1). README, "Pool modes", the greeting. Computes
// here run with utf8mb4_general_ci as the server's default collation.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { Redis } from 'ioredis';
import { startStack, type ProjectCredentials, type Stack } from '../helpers/stack.js';
import { startRedis, type RedisServer } from '../helpers/redis-server.js';
import { startProxyProcess, type ProxyProcess } from '../helpers/proxy-process.js';
import { testLogger } from '../helpers/logger.js';
import { createProcessDriver } from '../../control-plane/drivers/process-driver.js';
import { connectBackend } from '../../backend/connect.js';
import { UTF8MB4_GENERAL_CI, type Greeting } from '../../protocol/index.js';
import { SHARED_GREETING_KEY } from '../../proxy/shared-greeting.js';

const LATIN1_SWEDISH_CI = 8;

let stack: Stack;
let shop: ProjectCredentials;
let computes: string;
let redis: RedisServer;
let admin: Redis;
const children: ProxyProcess[] = [];
let beforeAnyCompute: { greeting: Greeting; answer: { status: number; body: any } };

before(async () => {
  computes = await mkdtemp(join(tmpdir(), 'wake-proxy-greeting-computes-'));
  const driver = createProcessDriver({
    dataDir: computes,
    logger: testLogger(),
    cgroups: 'off',
    extraArgs: ['--character-set-server=utf8mb4', '--collation-server=utf8mb4_general_ci'],
  });
  redis = await startRedis();
  admin = new Redis(redis.url);
  stack = await startStack({ verify: { ttlMs: 5_000, poolMode: 'session' }, controlPlane: { driver } });
  beforeAnyCompute = { greeting: await greetingOf(stack.proxy.port), answer: await stack.api('GET', '/api/v1/greeting') };
  shop = await stack.createProject('shop');
});
after(async () => {
  for (const c of children) await c.kill('SIGKILL');
  admin?.disconnect();
  await stack?.close();
  await redis?.close();
  if (computes) await rm(computes, { recursive: true, force: true });
});

async function greetingOf(port: number): Promise<Greeting> {
  const conn = await connectBackend({ host: '127.0.0.1', port }, 3_000);
  conn.socket.destroy();
  return conn.greeting;
}

/** A `wake-proxy proxy` process in front of the control plane, sharing Redis. */
async function proxyProcess(): Promise<ProxyProcess> {
  const p = await startProxyProcess(['--control-url', stack.cp.url, '--pool-mode', 'session', '--redis', redis.url, '--log-level', 'info']);
  children.push(p);
  return p;
}

/** Logs in through `port` and gives the compute's version, as its greeting says it. */
async function computeVersion(port: number): Promise<string> {
  const c = await mysql.createConnection({ host: '127.0.0.1', port, user: `shop.${shop.user}`, password: shop.password });
  try {
    const [rows] = await c.query<mysql.RowDataPacket[]>('SELECT VERSION() AS v');
    return `5.5.5-${rows[0]!.v as string}`;
  } finally {
    await c.end();
  }
}

test('before the control plane has started any compute, the built-in profile, and the control API says so', () => {
  assert.equal(beforeAnyCompute.greeting.charset, LATIN1_SWEDISH_CI);
  assert.equal(beforeAnyCompute.answer.status, 404);
  assert.equal(beforeAnyCompute.answer.body.error.code, 'no_greeting_yet');
});

test("the first client of a brand-new deployment's first proxy is greeted with the compute default collation", async () => {
  // The proxy started before any compute: the control plane read the project's compute's greeting when it started it.
  const answer = await stack.api('GET', '/api/v1/greeting');
  assert.equal(answer.status, 200);
  assert.equal(answer.body.charset, UTF8MB4_GENERAL_CI);
  assert.match(answer.body.serverVersion, /MariaDB/);
  const g = await greetingOf(stack.proxy.port);
  assert.equal(g.charset, UTF8MB4_GENERAL_CI);
  assert.equal(g.serverVersion, answer.body.serverVersion);
});

test('after a login, clients are greeted as the compute it met greets', async () => {
  const c = await mysql.createConnection({ host: '127.0.0.1', port: stack.proxy.port, user: `shop.${shop.user}`, password: shop.password });
  await c.query('SELECT 1');
  await c.end();
  assert.equal((await greetingOf(stack.proxy.port)).charset, UTF8MB4_GENERAL_CI);
});

test('a proxy started after another one met a compute greets its first client with the compute collation and version', async () => {
  await admin.del(SHARED_GREETING_KEY);
  const first = await proxyProcess();
  assert.equal((await greetingOf(first.port)).charset, UTF8MB4_GENERAL_CI, "nothing in Redis yet: the control plane's");
  assert.equal((await first.records((r) => r.msg === 'greeting clients as the control plane last saw a compute greet', 1)).length, 1);
  const version = await computeVersion(first.port);
  // Written off the login's path, once the first proxy's profile changed.
  const until = performance.now() + 5_000;
  while ((await admin.exists(SHARED_GREETING_KEY)) === 0 && performance.now() < until) await new Promise((r) => setTimeout(r, 20));
  const second = await proxyProcess();
  const g = await greetingOf(second.port);
  assert.equal(g.charset, UTF8MB4_GENERAL_CI);
  assert.equal(g.serverVersion, version);
  const learned = await second.records((r) => r.msg === 'greeting clients as proxies sharing Redis last saw a compute greet', 1);
  assert.equal(learned.length, 1);
  // Meeting the compute it already mirrors changes nothing: no write, no warning.
  assert.equal(await computeVersion(second.port), version);
  assert.equal((await second.settledLines()).filter((l) => JSON.parse(l).level >= 40).length, 0);
});

test("a stored greeting that does not check is ignored whole: the control plane's instead, one warning", async () => {
  const stored = JSON.parse((await admin.get(SHARED_GREETING_KEY)) ?? '{}') as Record<string, unknown>;
  await admin.set(SHARED_GREETING_KEY, JSON.stringify({ ...stored, charset: 300 }));
  const p = await proxyProcess();
  assert.equal((await greetingOf(p.port)).charset, UTF8MB4_GENERAL_CI);
  const warned = await p.records((r) => r.msg.startsWith('ignored the shared greeting in Redis'), 1);
  assert.equal(warned.length, 1);
  assert.equal(warned[0]!.level, 40);
});
