// The greeting proxies share through Redis (proxy/shared-greeting.ts), against a real
// redis-server: read at start within its bound, whatever Redis holds or however it is
// away; written only when the profile changes, at most one write a second with the
// latest facts, with a week's TTL; never a value a reader would refuse.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { Redis } from 'ioredis';
import { startRedis, type RedisServer } from '../helpers/redis-server.js';
import { findFreePort } from '../../control-plane/drivers/free-port.js';
import { SharedGreeting, type SharedGreetingOptions } from '../../proxy/shared-greeting.js';
import { formatGreetingFacts, parseGreetingFacts, type GreetingFacts } from '../../backend/greeting-facts.js';

const KEY = 'wakeproxy:v1:greeting';
const UTF8MB4: GreetingFacts = { serverVersion: '5.5.5-10.11.19-MariaDB', capabilities: 0x81fff7de, mariadbCapabilities: 0x1d, charset: 45 };
const LATIN1: GreetingFacts = { ...UTF8MB4, charset: 8 };
const WEEK_MS = 7 * 24 * 3_600_000;

let redis: RedisServer;
let admin: Redis;
before(async () => {
  redis = await startRedis();
  admin = new Redis(redis.url);
});
after(async () => {
  admin?.disconnect();
  await redis?.close();
});

interface Logged { level: number; msg: string; [k: string]: unknown }

function shared(o: Partial<SharedGreetingOptions> = {}): { greeting: SharedGreeting; logged: Logged[] } {
  const logged: Logged[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logged.push(JSON.parse(line) as Logged) });
  return { greeting: new SharedGreeting({ url: redis.url, logger, ...o }), logged };
}

/** What a proxy starting now reads, and what it logs saying so ([level, message up to its colon]). */
async function readAtStart(): Promise<{ facts: GreetingFacts | undefined; said: Array<[number, string]> }> {
  const { greeting, logged } = shared();
  const facts = await greeting.read();
  await greeting.close();
  return { facts, said: logged.map((l) => [l.level, l.msg.split(':')[0]!]) };
}

async function until<T>(what: string, f: () => Promise<T | undefined>, ms = 3_000): Promise<T> {
  const end = performance.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (performance.now() > end) throw new Error(`${what} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('no key: nothing learned, one info line', async () => {
  await admin.del(KEY);
  assert.deepEqual(await readAtStart(), { facts: undefined, said: [[30, 'no shared greeting in Redis yet']] });
});

test('what one proxy learns, the next one reads at start, with a TTL of a week', async () => {
  await admin.del(KEY);
  const first = shared();
  await first.greeting.read();
  first.greeting.offer(UTF8MB4);
  const stored = await until('the key written', async () => (await admin.get(KEY)) ?? undefined);
  assert.deepEqual(parseGreetingFacts(stored), UTF8MB4);
  const ttl = await admin.pttl(KEY);
  assert.ok(ttl > WEEK_MS - 60_000 && ttl <= WEEK_MS, `TTL ${ttl} ms`);
  // Stamped with a time no write would give it, to see that nothing rewrites it.
  const stamped = formatGreetingFacts(UTF8MB4, 1);
  await admin.set(KEY, stamped, 'PX', WEEK_MS);
  const second = shared();
  assert.deepEqual(await second.greeting.read(), UTF8MB4);
  // Learning at start what it read is no change to write back.
  second.greeting.offer(UTF8MB4);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(await admin.get(KEY), stamped, 'the reader wrote nothing');
  await Promise.all([first.greeting.close(), second.greeting.close()]);
  assert.equal(first.logged.filter((l) => l.level >= 40).length + second.logged.filter((l) => l.level >= 40).length, 0);
});

test('changes come a second apart at most, the latest winning; close writes what is pending', async () => {
  await admin.del(KEY);
  const { greeting } = shared({ writeGapMs: 500 });
  const sets: string[] = [];
  const monitor = await admin.monitor();
  monitor.on('monitor', (_t: string, args: string[]) => {
    if (args[0]?.toLowerCase() === 'set' && args[1] === KEY) sets.push(args[2]!);
  });
  greeting.offer(UTF8MB4);
  await until('the first write', async () => (sets.length === 1 ? true : undefined));
  // Within the gap: only the last of these is written, once the gap is over.
  for (const charset of [33, 46, 224]) greeting.offer({ ...UTF8MB4, charset });
  await new Promise((r) => setTimeout(r, 150));
  assert.equal(sets.length, 1);
  await until('the second write', async () => (sets.length === 2 ? true : undefined));
  assert.equal(parseGreetingFacts(sets[1]!).charset, 224);
  greeting.offer(LATIN1);
  await greeting.close();
  await until('the write at close', async () => (sets.length === 3 ? true : undefined));
  assert.equal(parseGreetingFacts((await admin.get(KEY))!).charset, 8);
  monitor.disconnect();
});

test('a greeting readers would refuse is not written', async () => {
  await admin.set(KEY, formatGreetingFacts(LATIN1, 1));
  const { greeting, logged } = shared();
  await greeting.read();
  greeting.offer({ ...UTF8MB4, serverVersion: '5.5.5-10.11.19\u0000x' });
  await greeting.close();
  assert.equal(parseGreetingFacts((await admin.get(KEY))!).charset, 8);
  assert.equal(logged.filter((l) => l.level === 40).length, 1);
});

for (const [what, value] of [
  ['not JSON', '{"serverVersion":"5.5.5-1'],
  ['an unknown field', JSON.stringify({ ...JSON.parse(formatGreetingFacts(UTF8MB4, 1)), threadId: 7 })],
  ['charset 0', formatGreetingFacts({ ...UTF8MB4, charset: 0 }, 1)],
] as const) {
  test(`a stored value with ${what} is ignored whole, with one warning`, async () => {
    await admin.set(KEY, value);
    assert.deepEqual(await readAtStart(), { facts: undefined, said: [[40, 'ignored the shared greeting in Redis']] });
  });
}

test('a key of another type is a read error: built-in profile, one warning', async () => {
  await admin.del(KEY);
  await admin.hset(KEY, 'charset', '45');
  assert.deepEqual(await readAtStart(), { facts: undefined, said: [[40, 'could not read the shared greeting from Redis at start']] });
  await admin.del(KEY);
});

test('Redis away: the read gives up within its bound, with one warning', async () => {
  const port = await findFreePort('127.0.0.1');
  const logged: Logged[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logged.push(JSON.parse(line) as Logged) });
  const greeting = new SharedGreeting({ url: `redis://127.0.0.1:${port}`, logger, readTimeoutMs: 300 });
  const started = performance.now();
  assert.equal(await greeting.read(), undefined);
  const took = performance.now() - started;
  assert.ok(took >= 250 && took < 1_000, `took ${took} ms`);
  greeting.offer(UTF8MB4); // fire and forget: nothing throws, one warning at most
  await greeting.close();
  const warnings = logged.filter((l) => l.level === 40);
  assert.ok(warnings.length >= 1 && warnings.length <= 2, JSON.stringify(warnings));
  assert.equal(warnings[0]!.msg.split(':')[0], 'could not read the shared greeting from Redis at start');
});
