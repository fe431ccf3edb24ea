// Proxies sharing Redis claim distinct instance numbers for their session ids: a key
// per number with a TTL, renewed, deleted on release, taken again after Redis lost it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startRedis, type RedisServer } from '../helpers/redis-server.js';
import { testLogger } from '../helpers/logger.js';
import { openRedis } from '../../util/redis.js';
import { claimInstance } from '../../proxy/kill/instance-claim.js';

let redis: RedisServer;
before(async () => {
  redis = await startRedis();
});
after(() => redis?.close());

async function ready(r: ReturnType<typeof openRedis>): Promise<void> {
  while (r.status !== 'ready') await new Promise((done) => setTimeout(done, 10));
}

test('claims are distinct, renewed, given back, and taken again after Redis lost them', async () => {
  const r = openRedis(redis.url, { name: 'test', commandTimeoutMs: 1_000 });
  await ready(r);
  const o = { keyPrefix: 'test:', logger: testLogger(), ttlMs: 300 };
  const claims = await Promise.all(Array.from({ length: 20 }, () => claimInstance(r, o)));
  assert.equal(new Set(claims.map((c) => c.instance)).size, 20);
  assert.ok(claims.every((c) => c.claimed && c.instance >= 0 && c.instance < 1024));
  await new Promise((done) => setTimeout(done, 700));
  assert.equal(await r.exists(`test:instance:${claims[0]!.instance}`), 1, 'renewed past its TTL');
  await claims[0]!.release();
  assert.equal(await r.exists(`test:instance:${claims[0]!.instance}`), 0);
  await r.flushall();
  await new Promise((done) => setTimeout(done, 250));
  assert.equal(await r.exists(`test:instance:${claims[1]!.instance}`), 1, 'taken again after the key was lost');
  for (const c of claims.slice(1)) await c.release();
  assert.deepEqual(await r.keys('test:instance:*'), []);
  r.disconnect();
});
