// Proxy-verified authentication: the proxy checks passwords against the
// control plane's verifiers before any wake, then logs into the compute itself.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import { startStack, type ProjectCredentials, type Stack } from '../helpers/stack.js';
import { mariadbCli, pymysql } from '../helpers/clients.js';

let stack: Stack;
let shop: ProjectCredentials;

before(async () => {
  stack = await startStack({ cacheTtlMs: 100, verify: { ttlMs: 300 }, proxy: { limits: { maxAuthFailuresPerMinute: 20 } } });
  shop = await stack.createProject('shop');
});
after(async () => {
  await stack?.close();
});

function connect(user: string, password: string) {
  return mysql.createConnection({ host: '127.0.0.1', port: stack.proxy.port, user: `shop.${user}`, password });
}

async function owner(sql: string): Promise<void> {
  const conn = await connect(shop.user, shop.password);
  await conn.query(sql);
  await conn.end();
}

test('a wrong password on a sleeping project gets 1045 and the compute stays asleep', async () => {
  await stack.suspend(shop.computeId, 'stop');
  const before = await stack.compute(shop.computeId);
  for (let i = 0; i < 5; i++) {
    await assert.rejects(connect(shop.user, `wrong-${i}`), (err: any) => err.errno === 1045);
  }
  const res = await mariadbCli(stack.proxy.port, 'shop.nosuchuser', 'x', 'SELECT 1');
  assert.match(res.stderr, /1045/);
  const afterwards = await stack.compute(shop.computeId);
  assert.equal(afterwards.state, 'stopped');
  assert.equal(afterwards.resumeCount, before.resumeCount);
});

test('the right password wakes the compute; mysql2, the mariadb CLI and PyMySQL log in', async () => {
  const conn = await connect(shop.user, shop.password);
  const [rows] = await conn.query('SELECT CURRENT_USER() AS u');
  assert.match((rows as any[])[0].u, new RegExp(`^${shop.user}@`));
  await conn.end();
  const cli = await mariadbCli(stack.proxy.port, `shop.${shop.user}`, shop.password, 'SELECT 7');
  assert.equal(cli.code, 0, cli.stderr);
  assert.equal(cli.stdout.trim(), '7');
  const py = await pymysql(stack.proxy.port, `shop.${shop.user}`, shop.password, 'SELECT 8');
  assert.equal(py.code, 0, py.stderr);
  assert.equal(py.stdout.trim(), '8');
});

test('a user created with SQL logs in after the compute slept and woke, without a wrong password waking it', async () => {
  await owner("CREATE USER 'app'@'%' IDENTIFIED BY 'app-pass'");
  await owner("GRANT SELECT ON *.* TO 'app'@'%'");
  await stack.suspend(shop.computeId, 'stop');
  const asleep = await stack.compute(shop.computeId);
  await assert.rejects(connect('app', 'nope'), (err: any) => err.errno === 1045);
  assert.equal((await stack.compute(shop.computeId)).resumeCount, asleep.resumeCount);
  const conn = await connect('app', 'app-pass');
  const [rows] = await conn.query('SELECT CURRENT_USER() AS u');
  assert.match((rows as any[])[0].u, /^app@/);
  await conn.end();
});

test('a changed password takes effect at once while the compute is awake', async () => {
  await owner("ALTER USER 'app'@'%' IDENTIFIED BY 'new-pass'");
  const conn = await connect('app', 'new-pass');
  await conn.end();
  await assert.rejects(connect('app', 'app-pass'), (err: any) => err.errno === 1045);
});

test('a flood of wrong passwords from one address is refused with 1129 after the limit', async () => {
  const errors: number[] = [];
  for (let i = 0; i < 25; i++) {
    try {
      await (await connect('app', `flood-${i}`)).end();
    } catch (err) {
      errors.push((err as { errno: number }).errno);
    }
  }
  assert.equal(errors.length, 25);
  assert.ok(errors.includes(1129), JSON.stringify(errors));
  const refusals = await stack.proxy.metrics.connectionsRefused.get();
  assert.ok((refusals.values.find((v) => v.labels.reason === 'auth_failures_blocked')?.value ?? 0) >= 1);
});
