// The Redis activity store against a real redis-server: the key layout's rules
// (expiring proxy reports that add up, max-merged last activity, idempotent
// usage buckets, a new epoch after a restart) and its behaviour while Redis is away.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { RedisActivityStore } from '../../activity/redis-activity-store.js';
import type { ActivityReport } from '../../activity/activity-store.js';
import { startRedis, type RedisServer } from '../helpers/redis-server.js';

let redis: RedisServer;
let store: RedisActivityStore;

before(async () => {
  redis = await startRedis();
  store = new RedisActivityStore({ url: redis.url, commandTimeoutMs: 500 });
});

after(async () => {
  await store?.close();
  await redis?.close();
});

function report(proxyId: string, over: Partial<ActivityReport> = {}): ActivityReport {
  return { proxyId, at: Date.now(), ttlMs: 10_000, clients: new Map(), lastActive: new Map(), usage: [], ...over };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(50);
  }
}

test('two proxies add up; a proxy that stops writing stops counting after its TTL', async () => {
  await until('connected', async () => store.write(report('warmup')).then(() => true, () => false), 5_000);
  await store.write(report('p1', { clients: new Map([['shop', 2]]), ttlMs: 600 }));
  await store.write(report('p2', { clients: new Map([['shop', 3], ['blog', 1]]) }));
  let s = await store.readActivity(['shop', 'blog', 'none']);
  assert.equal(s.clients.get('shop'), 5);
  assert.equal(s.clients.get('blog'), 1);
  assert.equal(s.clients.has('none'), false);
  await sleep(700);
  s = await store.readActivity(['shop', 'blog']);
  assert.equal(s.clients.get('shop'), 3, 'p1 expired');
  // p2's next report has no blog clients: the whole hash is replaced.
  await store.write(report('p2', { clients: new Map([['shop', 3]]) }));
  s = await store.readActivity(['shop', 'blog']);
  assert.equal(s.clients.has('blog'), false);
});

test('last activity only moves forward, whichever proxy reports it', async () => {
  await store.write(report('p1', { lastActive: new Map([['shop', 5_000]]) }));
  await store.write(report('p2', { lastActive: new Map([['shop', 4_000]]) }));
  assert.equal((await store.readActivity(['shop'])).lastActive.get('shop'), 5_000);
  await store.write(report('p2', { lastActive: new Map([['shop', 6_000]]) }));
  assert.equal((await store.readActivity(['shop'])).lastActive.get('shop'), 6_000);
});

test('usage: rewriting a bucket replaces it, two proxies add up, ranges select the buckets they overlap', async () => {
  const bucket = (proxyId: string, bucketStart: number, bytesIn: number) =>
    report(proxyId, { usage: [{ project: 'shop', bucketStart, bytesIn, bytesOut: bytesIn * 10, connectionMs: 2_000 }] });
  const t0 = Math.floor(Date.now() / 60_000) * 60_000 - 600_000; // a recent minute boundary
  await store.write(bucket('p1', t0, 100));
  await store.write(bucket('p1', t0, 100));
  await store.write(bucket('p1', t0, 120));
  await store.write(bucket('p2', t0, 30));
  await store.write(bucket('p1', t0 + 60_000, 7));
  assert.deepEqual(await store.readUsage('shop', t0, t0 + 60_000), { bytesIn: 150, bytesOut: 1_500, connectionSeconds: 4 });
  assert.deepEqual(await store.readUsage('shop', t0, t0 + 120_000), { bytesIn: 157, bytesOut: 1_570, connectionSeconds: 6 });
  assert.deepEqual(await store.readUsage('shop', t0 + 59_999, t0 + 60_000), { bytesIn: 150, bytesOut: 1_500, connectionSeconds: 4 });
  assert.deepEqual(await store.readUsage('shop', t0 + 60_000, t0 + 60_001), { bytesIn: 7, bytesOut: 70, connectionSeconds: 2 });
  assert.deepEqual(await store.readUsage('shop', t0 - 60_000, t0), { bytesIn: 0, bytesOut: 0, connectionSeconds: 0 });
});

test('one report is one MULTI: the proxy key carries its report time and a TTL', async () => {
  const raw = new Redis(redis.url);
  try {
    await store.write(report('p9', { clients: new Map([['shop', 1]]), ttlMs: 5_000, at: 42 }));
    assert.deepEqual(await raw.hgetall('wakeproxy:v1:proxy:p9'), { at: '42', 'c:shop': '1' });
    const ttl = await raw.pttl('wakeproxy:v1:proxy:p9');
    assert.ok(ttl > 0 && ttl <= 5_000, String(ttl));
    assert.ok((await raw.zscore('wakeproxy:v1:proxies', 'p9')) !== null);
  } finally {
    raw.disconnect();
  }
});

test('Redis away: calls fail fast; back empty: a new epoch starts and writes work again', async () => {
  const before = (await store.readActivity(['shop'])).epochStartedAt;
  await redis.stop();
  const started = Date.now();
  await assert.rejects(store.readActivity(['shop']), /activity store/);
  await assert.rejects(store.write(report('p1', { clients: new Map([['shop', 1]]) })));
  assert.ok(Date.now() - started < 1_500, `failed in ${Date.now() - started} ms`);
  await redis.start();
  await until('reconnected', async () => store.readActivity(['shop']).then(() => true, () => false), 5_000);
  const s = await store.readActivity(['shop']);
  assert.ok(s.epochStartedAt > before, 'a new epoch');
  assert.equal(s.clients.size, 0, 'reports were lost with the restart');
  await store.write(report('p1', { clients: new Map([['shop', 1]]) }));
  assert.equal((await store.readActivity(['shop'])).clients.get('shop'), 1);
});
