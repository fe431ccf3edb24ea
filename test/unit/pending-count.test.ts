// Per-statement counts kept as plain numbers reach their prom-client counters when read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createProxyMetrics } from '../../proxy/metrics.js';

test('pending counts are added to their counters when the counters are read, once', async () => {
  const m = createProxyMetrics();
  m.poolBorrows.inc();
  m.pending.poolBorrows.n += 3;
  m.wakeRequests.inc({ outcome: 'ok' });
  m.wakeRequests.inc({ outcome: 'wake_timeout' });
  m.pending.wakesOk.n += 5;
  assert.equal((await m.poolBorrows.get()).values[0]?.value, 4);
  const wakes = (await m.wakeRequests.get()).values;
  assert.equal(wakes.find((v) => v.labels.outcome === 'ok')?.value, 6);
  assert.equal(wakes.find((v) => v.labels.outcome === 'wake_timeout')?.value, 1);
  // Read again: nothing counted twice.
  assert.equal((await m.poolBorrows.get()).values[0]?.value, 4);
  assert.match(await m.registry.metrics(), /wakeproxy_wake_requests_total\{outcome="ok"\} 6/);
});
