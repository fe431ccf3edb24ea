// The reporter on its own, with stand-in sockets (only their byte counters are
// read) and the in-memory store: what one report interval writes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { pino } from 'pino';
import { ActivityReporter } from '../../proxy/activity-reporter.js';
import { MemoryActivityStore } from '../../activity/memory-activity-store.js';
import type { ActivityReport, ActivityStore } from '../../activity/activity-store.js';

const silent = pino({ level: 'silent' });
import { EventEmitter } from 'node:events';

/** Only the byte counters and the close event are used. */
const fakeSocket = () => Object.assign(new EventEmitter(), { bytesRead: 0, bytesWritten: 0 });

test('clients, bytes and connection time of tracked sockets reach the store at each flush', async (t) => {
  const store = new MemoryActivityStore();
  const r = new ActivityReporter({ store, intervalMs: 60_000, logger: silent });
  t.after(() => r.close());
  const s1 = fakeSocket();
  const s2 = fakeSocket();
  const began = Date.now();
  const end1 = r.track('shop', s1 as unknown as Socket);
  r.track('shop', s2 as unknown as Socket);
  s1.bytesRead = 100;
  s1.bytesWritten = 1_000;
  await r.flush();
  let snap = await store.readActivity(['shop']);
  assert.equal(snap.clients.get('shop'), 2);
  assert.ok(snap.lastActive.get('shop')! >= began);
  s1.bytesRead = 150;
  end1();
  end1(); // twice is once
  await r.flush();
  snap = await store.readActivity(['shop']);
  assert.equal(snap.clients.get('shop'), 1);
  const usage = await store.readUsage('shop', 0, Date.now() + 120_000);
  assert.equal(usage.bytesIn, 150);
  assert.equal(usage.bytesOut, 1_000);
  assert.ok(usage.connectionSeconds >= 0 && usage.connectionSeconds < 5, String(usage.connectionSeconds));
});

test('a quiet connected client is not activity; bytes moving are', async (t) => {
  const store = new MemoryActivityStore();
  const r = new ActivityReporter({ store, intervalMs: 60_000, logger: silent });
  t.after(() => r.close());
  const s = fakeSocket();
  r.track('shop', s as unknown as Socket);
  await r.flush();
  const first = (await store.readActivity(['shop'])).lastActive.get('shop')!;
  await new Promise((res) => setTimeout(res, 20));
  await r.flush();
  assert.equal((await store.readActivity(['shop'])).lastActive.get('shop'), first);
  s.bytesRead = 10;
  await r.flush();
  assert.ok((await store.readActivity(['shop'])).lastActive.get('shop')! > first);
});

test('a store outage is logged once, the full state is sent when it is back', async (t) => {
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, { write: (l: string) => lines.push(JSON.parse(l).msg) });
  const memory = new MemoryActivityStore();
  let down = true;
  const writes: ActivityReport[] = [];
  const flaky: ActivityStore = {
    kind: 'memory',
    write: async (rep) => {
      if (down) throw new Error('connection refused');
      writes.push(rep);
      return memory.write(rep);
    },
    readActivity: (p) => memory.readActivity(p),
    readUsage: (p, f, to) => memory.readUsage(p, f, to),
    close: async () => {},
  };
  const outcomes: string[] = [];
  const r = new ActivityReporter({ store: flaky, intervalMs: 60_000, logger, onWrite: (o) => outcomes.push(o) });
  t.after(() => r.close());
  const s = fakeSocket();
  r.track('shop', s as unknown as Socket);
  s.bytesRead = 42;
  for (let i = 0; i < 5; i++) await r.flush();
  down = false;
  await r.flush();
  await r.flush();
  assert.deepEqual(outcomes, ['error', 'error', 'error', 'error', 'error', 'ok', 'ok']);
  assert.equal(lines.filter((m) => m.includes('unreachable')).length, 1);
  assert.equal(lines.filter((m) => m.includes('reachable again')).length, 1);
  assert.equal(writes[0]!.clients.get('shop'), 1);
  assert.equal((await memory.readUsage('shop', 0, Date.now() + 120_000)).bytesIn, 42);
});

test('a socket that closes without its session untracking it stops counting', async (t) => {
  const store = new MemoryActivityStore();
  const r = new ActivityReporter({ store, intervalMs: 60_000, logger: silent });
  t.after(() => r.close());
  const s = fakeSocket();
  r.track('shop', s as unknown as Socket);
  await r.flush();
  assert.equal((await store.readActivity(['shop'])).clients.get('shop'), 1);
  s.emit('close');
  await r.flush();
  assert.equal((await store.readActivity(['shop'])).clients.get('shop'), undefined);
});

test('a socket tracked again later is not counted twice', async (t) => {
  const store = new MemoryActivityStore();
  const r = new ActivityReporter({ store, intervalMs: 60_000, logger: silent });
  t.after(() => r.close());
  const s = fakeSocket();
  const end = r.track('shop', s as unknown as Socket);
  s.bytesRead = 100;
  end();
  const again = r.track('shop', s as unknown as Socket);
  s.bytesRead = 130;
  again();
  await r.flush();
  assert.equal((await store.readUsage('shop', 0, Date.now() + 120_000)).bytesIn, 130);
});
