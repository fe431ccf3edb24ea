// Two proxies sharing Redis (real `wake-proxy proxy` processes and redis-server): each
// claims its own instance number, so their session ids never collide, and a KILL sent
// through one proxy stops a statement of a session the other one carries, in every
// pool mode. Without Redis such a KILL gets 1094, never a thread of another session.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import { startStack, type ProjectCredentials, type Stack } from '../helpers/stack.js';
import { startRedis, type RedisServer } from '../helpers/redis-server.js';
import { startProxyProcess, type ProxyProcess } from '../helpers/proxy-process.js';
import { instanceOf } from '../../proxy/kill/session-ids.js';
import { killAcross } from '../helpers/kill-across.js';

let redis: RedisServer;
let stack: Stack;
let shop: ProjectCredentials;
const children: ProxyProcess[] = [];

before(async () => {
  redis = await startRedis();
  stack = await startStack();
  shop = await stack.createProject('shop');
});
after(async () => {
  for (const c of children) await c.kill('SIGKILL');
  await stack?.close();
  await redis?.close();
});

async function proxy(mode: string, withRedis = true): Promise<ProxyProcess> {
  const p = await startProxyProcess([
    '--control-url', stack.cp.url, '--pool-mode', mode, '--log-level', 'info', ...(withRedis ? ['--redis', redis.url] : []),
  ]);
  children.push(p);
  return p;
}

function connect(port: number): Promise<mysql.Connection> {
  return mysql.createConnection({ host: '127.0.0.1', port, user: `shop.${shop.user}`, password: shop.password });
}

for (const mode of ['pipe', 'session', 'transaction']) {
  describe(`two ${mode} proxies sharing Redis`, () => {
    let a: ProxyProcess;
    let b: ProxyProcess;
    before(async () => {
      [a, b] = await Promise.all([proxy(mode), proxy(mode)]);
    });

    test('claim distinct instance numbers, and a KILL through one stops a statement carried by the other', async () => {
      const victim = await connect(a.port);
      const killer = await connect(b.port);
      assert.notEqual(instanceOf(victim.threadId!), instanceOf(killer.threadId!), 'each proxy claimed its own instance number');
      const r = await killAcross(victim, killer);
      assert.equal(r.outcome, 'error 1317');
      assert.ok(r.ms < 1_000, `took ${r.ms} ms`);
      assert.equal(((await victim.query('SELECT 1 AS ok')) as any)[0][0].ok, 1);
      // KILL CONNECTION through the other proxy ends the session (in transaction mode it holds no compute connection now).
      await killer.query(`KILL CONNECTION ${victim.threadId}`);
      await assert.rejects(victim.query('SELECT 1'));
      // A session the other proxy no longer has: 1094.
      await assert.rejects(killer.query(`KILL QUERY ${victim.threadId}`), (e: any) => e.errno === 1094);
      await killer.end();
    });
  });
}

test('a proxy that is gone answers nothing: the KILL gets 1094 at once', async () => {
  const [a, b] = await Promise.all([proxy('transaction'), proxy('transaction')]);
  const victim = await connect(a.port);
  (victim as any).connection.on('error', () => undefined);
  const killer = await connect(b.port);
  await a.kill('SIGKILL');
  const started = performance.now();
  await assert.rejects(killer.query(`KILL QUERY ${victim.threadId}`), (e: any) => e.errno === 1094);
  assert.ok(performance.now() - started < 1_000, 'nobody subscribed for that instance: no wait for an answer');
  victim.destroy();
  await killer.end();
});

test('without Redis, a KILL naming a session of another proxy gets 1094 and harms nobody', async () => {
  const [a, b] = await Promise.all([proxy('transaction', false), proxy('transaction', false)]);
  const victim = await connect(a.port);
  const killer = await connect(b.port);
  const sleeping = victim.query('SELECT SLEEP(1)').then(
    () => 'finished',
    (err: any) => `error ${err.errno}`,
  );
  await new Promise((r) => setTimeout(r, 200));
  await assert.rejects(killer.query(`KILL QUERY ${victim.threadId}`), (e: any) => e.errno === 1094);
  assert.equal(await sleeping, 'finished');
  await victim.end();
  await killer.end();
});
