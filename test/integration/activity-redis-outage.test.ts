// Redis going away and coming back while clients query: the clients never
// notice, the proxy logs the outage once and re-sends its whole state when
// Redis is back, and the scheduler suspends nothing it cannot prove idle:
// not while Redis is down, and not until every proxy has reported again.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import { pino } from 'pino';
import { startStack, type ProjectCredentials, type Stack } from '../helpers/stack.js';
import { startRedis, type RedisServer } from '../helpers/redis-server.js';

const IDLE_MS = 1_000;
const REPORT_MS = 200;
const GRACE_MS = 3 * REPORT_MS;

let redis: RedisServer;
let stack: Stack;
let shop: ProjectCredentials;
let blog: ProjectCredentials;
const messages: string[] = [];

before(async () => {
  redis = await startRedis();
  const logger = pino({ level: 'info' }, { write: (line: string) => void messages.push(JSON.parse(line).msg) });
  stack = await startStack({
    logger,
    cacheTtlMs: 100,
    activity: { redisUrl: redis.url, reportIntervalMs: REPORT_MS, idleTimeoutMs: IDLE_MS, coldTimeoutMs: 60_000 },
  });
  shop = await stack.createProject('shop');
  blog = await stack.createProject('blog');
});

after(async () => {
  await stack?.close();
  await redis?.close();
});

const count = (text: string) => messages.filter((m) => m.includes(text)).length;

test('clients keep querying through a Redis outage; nothing is suspended until Redis proves it idle', async (t) => {
  const conn = await mysql.createConnection({ host: '127.0.0.1', port: stack.proxy.port, user: `shop.${shop.user}`, password: shop.password });
  let queries = 0;
  const errors: string[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        await conn.query('SELECT 1');
        queries++;
      } catch (err) {
        errors.push((err as Error).message);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();

  try {
    // blog has no client at all: only the outage keeps it awake.
    assert.equal((await stack.api('POST', '/api/v1/projects/blog/wake')).status, 200);
    await redis.stop();
    await new Promise((r) => setTimeout(r, IDLE_MS + 1_500));
    assert.equal((await stack.compute(blog.computeId)).state, 'active', 'nothing is suspended while Redis is down');
    assert.equal((await stack.compute(shop.computeId)).state, 'active');

    await redis.start();
    const restarted = Date.now();
    const frozen = await stack.waitForState(blog.computeId, 'frozen', GRACE_MS + 5_000);
    const after = Date.parse(frozen.updatedAt) - restarted;
    t.diagnostic(`idle blog frozen ${after} ms after Redis came back (grace ${GRACE_MS} ms)`);
    assert.ok(after >= GRACE_MS - 50, `frozen only ${after} ms after Redis came back`);

    // The proxy re-sent its whole state, not just what changed since.
    const snap = await stack.store!.readActivity(['shop']);
    assert.equal(snap.clients.get('shop'), 1);
    assert.equal((await stack.compute(shop.computeId)).state, 'active');
  } finally {
    running = false;
    await loop;
    await conn.end();
  }
  t.diagnostic(`${queries} queries during the test`);
  assert.deepEqual(errors, []);
  assert.ok(queries > 50, `only ${queries} queries`);
  assert.equal(count('activity store unreachable'), 1, 'the proxy logs the outage once');
  assert.equal(count('activity store reachable again'), 1);
  assert.equal(count('activity store unreadable'), 1, 'the scheduler logs the outage once');
  assert.equal(count('activity store readable again'), 1);
});
