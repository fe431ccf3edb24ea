// Queries through the proxy with three real clients, and payloads larger than
// one 16 MiB packet in both directions.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import { startStack, type ProjectCredentials, type Stack } from '../helpers/stack.js';
import { mariadbCli, pymysql } from '../helpers/clients.js';
import { testLogger } from '../helpers/logger.js';
import { startProxy } from '../../proxy/server.js';

let stack: Stack;
let shop: ProjectCredentials;

before(async () => {
  stack = await startStack();
  shop = await stack.createProject('shop');
});

after(async () => {
  await stack?.close();
});

function connect(extra: mysql.ConnectionOptions = {}) {
  return mysql.createConnection({
    host: '127.0.0.1',
    port: stack.proxy.port,
    user: `shop.${shop.user}`,
    password: shop.password,
    ...extra,
  });
}

test('mysql2 queries through the proxy reach the compute', async () => {
  const conn = await connect();
  try {
    const [rows] = await conn.query('SELECT 1 + 1 AS two, CURRENT_USER() AS who');
    assert.deepEqual((rows as any[])[0].two, 2);
    assert.match((rows as any[])[0].who, new RegExp(`^${shop.user}@`));
    // Prepared statements use the binary protocol end to end.
    const [prep] = await conn.execute('SELECT ? * 3 AS n', [14]);
    assert.equal((prep as any[])[0].n, 42);
  } finally {
    await conn.end();
  }
});

test('a database named in the handshake is selected on the compute', async () => {
  const setup = await connect();
  await setup.query('CREATE DATABASE IF NOT EXISTS inventory');
  await setup.end();
  const conn = await connect({ database: 'inventory' });
  const [rows] = await conn.query('SELECT DATABASE() AS db');
  assert.equal((rows as any[])[0].db, 'inventory');
  await conn.end();
});

test('with database routing the database name carries the project', async () => {
  const routed = await startProxy({
    host: '127.0.0.1',
    port: 0,
    resolver: stack.resolver,
    routing: { databaseRouting: true },
    logger: testLogger(),
  });
  try {
    const conn = await mysql.createConnection({
      host: '127.0.0.1',
      port: routed.port,
      user: shop.user,
      password: shop.password,
      database: 'shop/inventory',
    });
    const [rows] = await conn.query('SELECT DATABASE() AS db');
    assert.equal((rows as any[])[0].db, 'inventory');
    await conn.end();
    const res = await mariadbCli(routed.port, shop.user, shop.password, 'SELECT DATABASE()', ['-D', 'shop']);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout.trim(), 'NULL');
  } finally {
    await routed.close();
  }
});

test('the mariadb command-line client works through the proxy', async () => {
  const res = await mariadbCli(stack.proxy.port, `shop.${shop.user}`, shop.password, "SELECT 'hello', 6*7");
  assert.equal(res.code, 0, res.stderr);
  assert.equal(res.stdout.trim(), 'hello\t42');
});

test('Python PyMySQL works through the proxy', async () => {
  const res = await pymysql(stack.proxy.port, `shop.${shop.user}`, shop.password, "SELECT 'py', 7");
  assert.equal(res.code, 0, res.stderr);
  assert.equal(res.stdout.trim(), 'py\t7');
});

test('a result and an INSERT larger than 16 MiB pass intact', async () => {
  const conn = await connect();
  try {
    const size = 17 * 1024 * 1024 + 123;
    const [rows] = await conn.query("SELECT CONCAT(REPEAT('x', ?), 'END') AS big", [size]);
    const big = (rows as any[])[0].big as string;
    assert.equal(big.length, size + 3);
    assert.ok(big.endsWith('xxxEND'));

    await conn.query('CREATE DATABASE IF NOT EXISTS t');
    await conn.query('CREATE TABLE IF NOT EXISTS t.blobs (id INT PRIMARY KEY, v LONGBLOB)');
    const payload = Buffer.alloc(size);
    for (let i = 0; i < size; i++) payload[i] = (i * 31 + 7) & 0xff;
    await conn.query('REPLACE INTO t.blobs VALUES (1, ?)', [payload]);
    const [back] = await conn.query('SELECT LENGTH(v) AS n, SHA2(v, 256) AS h FROM t.blobs WHERE id = 1');
    const { createHash } = await import('node:crypto');
    assert.equal((back as any[])[0].n, size);
    assert.equal((back as any[])[0].h, createHash('sha256').update(payload).digest('hex'));
  } finally {
    await conn.end();
  }
});
