// A user created on an awake compute logs in through the proxy at once, and a
// changed password takes effect at once: the proxy asks past its cache, and the
// control plane answers after a read of the compute that started after the question.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import { startStack, type ProjectCredentials, type Stack } from '../helpers/stack.js';
import { mariadbCli } from '../helpers/clients.js';

let stack: Stack;
let shop: ProjectCredentials;

before(async () => {
  // A long ttl: what the proxy cached must not stand between a change and a login.
  stack = await startStack({ cacheTtlMs: 5_000, verify: { ttlMs: 60_000, poolMode: 'session' } });
  shop = await stack.createProject('shop');
});
after(async () => {
  await stack?.close();
});

const connect = (user: string, password: string) =>
  mysql.createConnection({ host: '127.0.0.1', port: stack.proxy.port, user: `shop.${user}`, password });

test('users created one after another on an awake compute log in at once', async () => {
  const owner = await connect(shop.user, shop.password);
  try {
    for (let i = 0; i < 5; i++) {
      await owner.query(`CREATE USER 'u${i}'@'%' IDENTIFIED BY 'p${i}'`);
      const conn = await connect(`u${i}`, `p${i}`);
      const [rows] = await conn.query('SELECT CURRENT_USER() AS u');
      assert.equal((rows as any[])[0].u, `u${i}@%`);
      await conn.end();
    }
    // The cached answer for u0 predates this change; the mismatch makes the proxy ask again.
    await owner.query("ALTER USER 'u0'@'%' IDENTIFIED BY 'renewed'");
    const cli = await mariadbCli(stack.proxy.port, 'shop.u0', 'renewed', 'SELECT CURRENT_USER()');
    assert.equal(cli.code, 0, cli.stderr);
    assert.equal(cli.stdout.trim(), 'u0@%');
    await assert.rejects(connect('u0', 'p0'), (e: any) => e.errno === 1045);
  } finally {
    await owner.end();
  }
});

test('a user created while the compute sleeps is unknown to the proxy, and refused without a wake', async () => {
  await stack.suspend(shop.computeId, 'stop');
  const before = await stack.compute(shop.computeId);
  await assert.rejects(connect('never-made', 'x'), (e: any) => e.errno === 1045);
  const after = await stack.compute(shop.computeId);
  assert.deepEqual([after.state, after.resumeCount], ['stopped', before.resumeCount]);
});
