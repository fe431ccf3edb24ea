// max_password_errors across proxies: two proxies that share Redis count one
// account's wrong passwords together, as the server counts them across its clients,
// and block it (4150) at the server's threshold, without waking the compute.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import { startStack, type ProjectCredentials, type Stack } from '../helpers/stack.js';
import { startRedis, type RedisServer } from '../helpers/redis-server.js';
import { RedisPasswordErrors } from '../../accounts/redis-password-errors.js';
import { startProxy, type ProxyServer } from '../../proxy/server.js';
import { createControlApiVerifiers } from '../../control-client/control-api-verifiers.js';
import { testLogger } from '../helpers/logger.js';

let redis: RedisServer;
let stack: Stack;
let shop: ProjectCredentials;
let second: ProxyServer;
const stores: RedisPasswordErrors[] = [];

before(async () => {
  redis = await startRedis();
  const store = () => {
    const s = new RedisPasswordErrors({ url: redis.url, keyPrefix: 'test:pwerr:' });
    stores.push(s);
    return s;
  };
  stack = await startStack({ cacheTtlMs: 100, verify: { ttlMs: 100 }, proxy: { passwordErrors: store() } });
  shop = await stack.createProject('shop');
  second = await startProxy({
    host: '127.0.0.1',
    port: 0,
    resolver: stack.resolver,
    logger: testLogger(),
    verifiers: createControlApiVerifiers({ url: stack.cp.url, ttlMs: 100 }),
    passwordErrors: store(),
  });
  const owner = await mysql.createConnection({ host: '127.0.0.1', port: stack.proxy.port, user: `shop.${shop.user}`, password: shop.password });
  await owner.query("CREATE USER guarded@'%' IDENTIFIED BY 'right'");
  await owner.query('SET GLOBAL max_password_errors = 2');
  await owner.end();
  await stack.suspend(shop.computeId, 'freeze'); // accounts and settings are read first
});

after(async () => {
  await second?.close();
  await stack?.close();
  for (const s of stores) await s.close();
  await redis?.close();
});

const login = (port: number, password: string) =>
  mysql.createConnection({ host: '127.0.0.1', port, user: 'shop.guarded', password }).then(
    async (c) => (await c.end(), 0),
    (e: { errno: number }) => e.errno,
  );

test('wrong passwords on two proxies add up; the right one is then refused with 4150 on both, unwoken', async () => {
  const before = await stack.compute(shop.computeId);
  assert.equal(await login(stack.proxy.port, 'w1'), 1045);
  assert.equal(await login(second.port, 'w2'), 1045);
  assert.equal(await login(stack.proxy.port, 'right'), 4150);
  assert.equal(await login(second.port, 'right'), 4150);
  const after = await stack.compute(shop.computeId);
  assert.deepEqual([after.state, after.resumeCount], ['frozen', before.resumeCount]);
});

test('without Redis the counters are lost, never a reason to let a login through: Redis down is 1429', async () => {
  await redis.stop();
  const out = await mysql.createConnection({ host: '127.0.0.1', port: second.port, user: 'shop.guarded', password: 'right' }).then(
    () => null,
    (e: { errno: number; message: string }) => e,
  );
  assert.equal(out?.errno, 1429);
  assert.match(out!.message, /failed-login counters unavailable/);
});
