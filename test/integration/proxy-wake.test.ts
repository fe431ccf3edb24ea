// Wake on connect: a suspended compute wakes for the next client, a crowd of
// clients causes one wake, and a compute that cannot start is reported.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { startStack, type ProjectCredentials, type Stack } from '../helpers/stack.js';
import { mariadbCli } from '../helpers/clients.js';

let stack: Stack;
let shop: ProjectCredentials;

before(async () => {
  // A short address cache: a suspended compute is then found by asking again.
  stack = await startStack({ cacheTtlMs: 100 });
  shop = await stack.createProject('shop');
});

after(async () => {
  await stack?.close();
});

async function selectOne(creds: ProjectCredentials): Promise<number> {
  const conn = await mysql.createConnection({
    host: '127.0.0.1',
    port: stack.proxy.port,
    user: `${creds.project}.${creds.user}`,
    password: creds.password,
  });
  try {
    const [rows] = await conn.query('SELECT 1 AS one');
    return (rows as any[])[0].one;
  } finally {
    await conn.end();
  }
}

test('a stopped compute wakes when a client connects', async () => {
  await stack.suspend(shop.computeId, 'stop');
  assert.notEqual((await stack.compute(shop.computeId)).state, 'active');
  assert.equal(await selectOne(shop), 1);
  assert.equal((await stack.compute(shop.computeId)).state, 'active');
});

test('a cached address of a suspended compute is dropped and the compute woken again', async () => {
  const cached = await startStack({ cacheTtlMs: 60_000 });
  try {
    const p = await cached.createProject('cached');
    const conn = await mysql.createConnection({
      host: '127.0.0.1',
      port: cached.proxy.port,
      user: `cached.${p.user}`,
      password: p.password,
    });
    await conn.end();
    await cached.suspend(p.computeId, 'stop');
    const res = await mariadbCli(cached.proxy.port, `cached.${p.user}`, p.password, 'SELECT 5');
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout.trim(), '5');
  } finally {
    await cached.close();
  }
});

test('a cached address of a frozen compute (TCP accepted, no greeting) is woken within a few seconds', async () => {
  const cached = await startStack({ cacheTtlMs: 60_000 });
  try {
    const p = await cached.createProject('frozen');
    const first = await mariadbCli(cached.proxy.port, `frozen.${p.user}`, p.password, 'SELECT 1');
    assert.equal(first.code, 0, first.stderr);
    await cached.suspend(p.computeId, 'freeze');
    const started = Date.now();
    const res = await mariadbCli(cached.proxy.port, `frozen.${p.user}`, p.password, 'SELECT 6');
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout.trim(), '6');
    assert.ok(Date.now() - started < 4_000, `took ${Date.now() - started} ms`);
  } finally {
    await cached.close();
  }
});

test('50 clients connecting at once to a sleeping project cause one wake and all succeed', async () => {
  await stack.suspend(shop.computeId, 'stop');
  const before = (await stack.compute(shop.computeId)).resumeCount as number;
  const results = await Promise.allSettled(Array.from({ length: 50 }, () => selectOne(shop)));
  const failed = results.filter((r) => r.status === 'rejected');
  assert.equal(failed.length, 0, JSON.stringify(failed.slice(0, 3)));
  assert.equal((await stack.compute(shop.computeId)).resumeCount, before + 1);
});

test('a compute that cannot start gives waiting clients a clear error naming the project', async () => {
  const broken = await stack.createProject('broken');
  await stack.suspend(broken.computeId, 'stop');
  // Replace the data directory by a plain file: mariadbd cannot start on it.
  const dataDir = join(stack.dataDir, 'computes', broken.computeId, 'data');
  await rm(dataDir, { recursive: true, force: true });
  await writeFile(dataDir, 'not a directory');
  const started = Date.now();
  const attempts = await Promise.allSettled([selectOne(broken), selectOne(broken), selectOne(broken)]);
  for (const a of attempts) {
    assert.equal(a.status, 'rejected');
    const err = (a as PromiseRejectedResult).reason as { errno?: number; message: string };
    assert.equal(err.errno, 1429, err.message);
    assert.match(err.message, /project 'broken'/);
  }
  assert.ok(Date.now() - started < 20_000, 'error arrives within the wake bound');
  // The proxy still serves the others.
  assert.equal(await selectOne(shop), 1);
});
