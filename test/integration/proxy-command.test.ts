// The proxy as production runs it: its own process in front of the control
// API, checking passwords before any wake and pooling compute connections.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import { startStack, type ProjectCredentials, type Stack } from '../helpers/stack.js';
import { startProxyProcess, type ProxyProcess } from '../helpers/proxy-process.js';
import { COMPUTE_THREAD } from '../helpers/compute-thread.js';


let stack: Stack;
let shop: ProjectCredentials;
let proxy: ProxyProcess;

before(async () => {
  stack = await startStack();
  shop = await stack.createProject('shop');
  proxy = await startProxyProcess(['--control-url', stack.cp.url, '--pool-mode', 'session', '--cache-ttl', '200ms']);
});
after(async () => {
  await proxy?.kill('SIGTERM');
  await stack?.close();
});

function connect(password: string) {
  return mysql.createConnection({ host: '127.0.0.1', port: proxy.port, user: `shop.${shop.user}`, password });
}

test('a wrong password never wakes the compute; the right one does, and quits return pooled connections', async () => {
  await stack.suspend(shop.computeId, 'stop');
  const asleep = await stack.compute(shop.computeId);
  await assert.rejects(connect('wrong'), (err: any) => err.errno === 1045);
  assert.equal((await stack.compute(shop.computeId)).state, 'stopped');
  assert.equal((await stack.compute(shop.computeId)).resumeCount, asleep.resumeCount);

  const a = await connect(shop.password);
  const [[first]] = (await a.query(COMPUTE_THREAD)) as any;
  await a.end();
  await new Promise((r) => setTimeout(r, 100));
  const b = await connect(shop.password);
  const [[second]] = (await b.query(COMPUTE_THREAD)) as any;
  await b.end();
  assert.equal(second.id, first.id, 'the second client borrowed the first one’s compute connection');
  assert.ok(!(await proxy.settledLines()).some((l) => l.includes(shop.password)), 'no password in the log');
});

test('proxy --pool-mode transaction: two connected clients take turns on one compute connection', async () => {
  const tx = await startProxyProcess(['--control-url', stack.cp.url, '--pool-mode', 'transaction', '--cache-ttl', '200ms']);
  try {
    const opts = { host: '127.0.0.1', port: tx.port, user: `shop.${shop.user}`, password: shop.password };
    const [a, b] = await Promise.all([mysql.createConnection(opts), mysql.createConnection(opts)]);
    const ids = new Set<number>();
    for (const c of [a, b, a, b]) {
      const [[row]] = (await c.query(COMPUTE_THREAD)) as any;
      ids.add(row.id);
    }
    assert.equal(ids.size, 1, 'both clients stayed connected and shared one compute connection');
    await Promise.all([a.end(), b.end()]);
  } finally {
    await tx.kill('SIGTERM');
  }
});
