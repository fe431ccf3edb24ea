// Application pools of two real drivers through transaction pooling, with the idle
// scheduler on: mysql2 clients using execute() (binary prepared statements) and npm
// mariadb connector clients using execute() and query() log in all at once and run a
// statement every second or so; the compute sees a few connections (pool max and grow
// delay at the CLI's defaults: a burst of logins, each borrowing a connection, must not
// open one each), nothing pins, and once the clients go quiet (still connected) the
// compute is frozen under them and woken once by their next statements, each answered.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import * as mariadb from 'mariadb';
import { startStack, type ProjectCredentials, type Stack } from '../helpers/stack.js';
import { VERIFY_OPTIONS } from '../../cli/proxy-options.js';
import { pinsByReason } from './pool-support.js';

const PER_DRIVER = 20;
const RUN_MS = 5_000;
const PERIOD_MS = 1_000;
const IDLE_MS = 1_500;
const MAX_COMPUTE_CONNECTIONS = 10;

let stack: Stack;
let shop: ProjectCredentials;

before(async () => {
  stack = await startStack({
    cacheTtlMs: 100,
    verify: { ttlMs: 5_000, poolMode: 'transaction', poolMax: Number(VERIFY_OPTIONS['pool-max-per-compute'].default) },
    // Frozen, not stopped, once idle: the cold timeout is past the end of the test.
    activity: { reportIntervalMs: 200, checkIntervalMs: 200, idleTimeoutMs: IDLE_MS, coldTimeoutMs: 120_000 },
  });
  shop = await stack.createProject('shop');
});
after(async () => {
  await stack?.close();
});

type Client = { statement(n: number): Promise<number>; close(): Promise<void> };

async function openClient(driver: 'mysql2' | 'mariadb', i: number): Promise<Client> {
  // Forty logins at once in the test's own process, which also runs the proxy: not the drivers' 1 s default.
  const login = { host: '127.0.0.1', port: stack.proxy.port, user: `shop.${shop.user}`, password: shop.password, connectTimeout: 20_000 };
  if (driver === 'mysql2') {
    const c = await mysql.createConnection(login);
    return {
      async statement(n) {
        const [rows] = await c.execute('SELECT ? + 0 AS v', [n]);
        return Number((rows as any[])[0].v);
      },
      close: () => c.end(),
    };
  }
  const c = await mariadb.createConnection(login);
  return {
    async statement(n) {
      const rows = i % 2 === 0 ? await c.execute('SELECT ? + 0 AS v', [n]) : await c.query('SELECT ? + 0 AS v', [n]);
      return Number((rows as any[])[0].v);
    },
    close: () => c.end(),
  };
}

async function answers(c: Client): Promise<void> {
  const n = Math.floor(Math.random() * 1_000_000);
  assert.equal(await c.statement(n), n);
}

/** The proxy's logins as the compute lists them, sampled over a direct login to it (not through the proxy). */
async function watchCompute(): Promise<{ max: () => number; stop: () => Promise<void> }> {
  const c = await stack.compute(shop.computeId);
  const admin = await mysql.createConnection({ host: c.host, port: c.port, user: shop.user, password: shop.password });
  let max = 0;
  let stopped = false;
  const sample = async () => {
    const [rows] = await admin.query('SELECT COUNT(*) - 1 AS n FROM information_schema.PROCESSLIST WHERE USER = ?', [shop.user]);
    max = Math.max(max, Number((rows as any[])[0].n));
  };
  const loop = (async () => {
    while (!stopped) {
      await sample();
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return {
    max: () => max,
    async stop() {
      stopped = true;
      await loop;
      await sample();
      await admin.end();
    },
  };
}

const pinTotal = async () => Object.values(await pinsByReason(stack.proxy)).reduce((s, v) => s + v, 0);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('two drivers in transaction mode: few compute connections, no pins, the compute sleeps under idle clients and wakes once', async (t) => {
  const watch = await watchCompute();
  // Every client logs in at once, and runs its first statement right after.
  const logins: number[] = [];
  const clients = await Promise.all(
    (['mysql2', 'mariadb'] as const).flatMap((driver) =>
      Array.from({ length: PER_DRIVER }, async (_, i) => {
        const t0 = performance.now();
        const c = await openClient(driver, i);
        logins.push(performance.now() - t0);
        await answers(c);
        return c;
      }),
    ),
  );
  const afterLogins = watch.max();
  t.diagnostic(`logins: slowest ${Math.max(...logins).toFixed(1)} ms`);
  assert.equal(await pinTotal(), 0, `the drivers' setup pins nothing: ${JSON.stringify(await pinsByReason(stack.proxy))}`);

  const end = Date.now() + RUN_MS;
  let statements = 0;
  await Promise.all(
    clients.map(async (c) => {
      await sleep(Math.random() * PERIOD_MS);
      while (Date.now() < end) {
        await answers(c);
        statements++;
        await sleep(PERIOD_MS * (0.5 + Math.random()));
      }
    }),
  );
  await watch.stop();
  t.diagnostic(`${clients.length} clients, ${statements} statements, compute connections max ${watch.max()} (${afterLogins} after the logins)`);
  assert.equal(await pinTotal(), 0, `statements pin nothing: ${JSON.stringify(await pinsByReason(stack.proxy))}`);
  assert.ok(watch.max() <= MAX_COMPUTE_CONNECTIONS, `compute connections ${watch.max()} > ${MAX_COMPUTE_CONNECTIONS}`);

  const idleFrom = Date.now();
  const before = await stack.waitForState(shop.computeId, 'frozen', IDLE_MS + 8_000);
  t.diagnostic(`frozen ${Date.now() - idleFrom} ms after the clients went idle (idle timeout ${IDLE_MS} ms)`);
  await sleep(200); // past the proxy's address cache

  const latencies: number[] = [];
  await Promise.all(
    clients.map(async (c) => {
      await sleep(Math.random() * PERIOD_MS);
      const t0 = performance.now();
      await answers(c);
      latencies.push(performance.now() - t0);
    }),
  );
  latencies.sort((a, b) => a - b);
  t.diagnostic(`after the wake: ${latencies.length} answered, slowest ${latencies.at(-1)!.toFixed(1)} ms`);
  assert.equal(latencies.length, clients.length, 'every client stayed connected and got its answer');
  const woken = await stack.compute(shop.computeId);
  assert.equal(woken.state, 'active');
  assert.equal(woken.resumeCount, before.resumeCount + 1, 'woken once');
  assert.equal(await pinTotal(), 0);
  await Promise.all(clients.map((c) => c.close()));
});
