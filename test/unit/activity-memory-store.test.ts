// The in-memory activity store keeps the Redis store's rules: reports expire,
// proxies add up, last activity keeps its maximum, usage rewrites are idempotent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryActivityStore } from '../../activity/memory-activity-store.js';
import type { ActivityReport } from '../../activity/activity-store.js';

function report(proxyId: string, at: number, over: Partial<ActivityReport> = {}): ActivityReport {
  return { proxyId, at, ttlMs: 3_000, clients: new Map(), lastActive: new Map(), usage: [], ...over };
}

test('clients of two proxies add up and a silent proxy stops counting after its TTL', async () => {
  let now = 1_000_000;
  const store = new MemoryActivityStore(() => now);
  await store.write(report('a', now, { clients: new Map([['shop', 2]]) }));
  await store.write(report('b', now, { clients: new Map([['shop', 1], ['blog', 4]]) }));
  assert.deepEqual([...(await store.readActivity(['shop', 'blog'])).clients], [['shop', 3], ['blog', 4]]);
  now += 2_000;
  await store.write(report('b', now, { clients: new Map([['shop', 1]]) }));
  now += 1_500;
  // a's report is 3.5 s old (TTL 3 s); b rewrote its state without blog.
  assert.deepEqual([...(await store.readActivity(['shop', 'blog'])).clients], [['shop', 1]]);
});

test('last activity keeps the newest time over proxies and only answers for asked projects', async () => {
  const store = new MemoryActivityStore(() => 0);
  await store.write(report('a', 0, { lastActive: new Map([['shop', 500], ['blog', 7]]) }));
  await store.write(report('b', 0, { lastActive: new Map([['shop', 300]]) }));
  const s = await store.readActivity(['shop']);
  assert.deepEqual([...s.lastActive], [['shop', 500]]);
});

test('usage buckets are absolute per proxy: a repeated write is not counted twice', async () => {
  const store = new MemoryActivityStore(() => 0);
  const u = (proxyId: string, bytesIn: number, bucketStart = 60_000) =>
    report(proxyId, 0, { usage: [{ project: 'shop', bucketStart, bytesIn, bytesOut: 2 * bytesIn, connectionMs: 1_500 }] });
  await store.write(u('a', 10));
  await store.write(u('a', 10));
  await store.write(u('a', 15));
  await store.write(u('b', 5));
  await store.write(u('b', 100, 180_000));
  assert.deepEqual(await store.readUsage('shop', 0, 120_000), { bytesIn: 20, bytesOut: 40, connectionSeconds: 3 });
  assert.deepEqual(await store.readUsage('shop', 119_999, 120_000), { bytesIn: 20, bytesOut: 40, connectionSeconds: 3 });
  assert.deepEqual(await store.readUsage('shop', 120_000, 180_000), { bytesIn: 0, bytesOut: 0, connectionSeconds: 0 });
  assert.deepEqual(await store.readUsage('shop', 0, 240_000), { bytesIn: 120, bytesOut: 240, connectionSeconds: 4.5 });
  assert.deepEqual(await store.readUsage('blog', 0, 240_000), { bytesIn: 0, bytesOut: 0, connectionSeconds: 0 });
});
