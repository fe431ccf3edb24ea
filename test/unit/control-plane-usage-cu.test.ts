// CU-seconds through the real store (SQLite) and the ledger: a compute that
// starts, is resized twice, is frozen, thaws and stops, with every transition
// at a known time, some of them across an hour boundary. The totals, the hours
// and the billing export must be exactly what the script did, and survive
// reopening the store.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { pino } from 'pino';
import { openStateStore } from '../../control-plane/store/sql-state-store.js';
import type { ComputeChange, StateStore } from '../../control-plane/store/state-store.js';
import { UsageLedger } from '../../control-plane/usage-ledger.js';
import { cuSeconds, seconds, HOUR_MS } from '../../control-plane/usage-periods.js';
import { allUsage } from '../../control-plane/usage-report.js';
import { usageMetricsText } from '../../control-plane/usage-metrics.js';
import { testCompute, testProject } from '../helpers/store-records.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const silent = pino({ level: 'silent' });
/** An hour boundary, so the script crosses one. */
const H = Date.UTC(2030, 0, 15, 10);

const project = testProject('shop', { createdAt: new Date(H - HOUR_MS).toISOString() });
const compute = testCompute('shop', { createdAt: 'x', updatedAt: 'x' });

/** Applies the changes in order, each at its time (ms after H). */
async function script(store: StateStore, steps: Array<[number, ComputeChange]>): Promise<void> {
  for (const [t, change] of steps) {
    const c = (await store.getCompute('shop-c1'))!;
    assert.ok(await store.changeCompute(c.id, c.version, change, { at: H + t, by: 'cp-a' }), `step at ${t}`);
  }
}

test('CU-seconds add up across resizes, a freeze and a stop, per hour too, and survive a reopen', async (t) => {
  const dir = await makeTempDir();
  t.after(() => dir.remove());
  const location = join(dir.path, 'state.db');
  const { store } = await openStateStore({ location });
  await store.createProject(project, compute);
  await script(store, [
    [-10_000, { state: 'starting', sizeMilli: 250 }], // 10 s before the hour, at 0.25 CU
    [-9_000, { state: 'active' }],
    [20_000, { sizeMilli: 1000 }], // resize up 20 s into the hour
    [30_000, { sizeMilli: 500 }], // and down
    [40_000, { state: 'frozen' }], // frozen: not running, not counted
    [100_000, { state: 'starting' }], // thaws at the size it had
    [101_000, { state: 'active' }],
    [110_000, { state: 'stopping' }],
    [111_000, { state: 'stopped' }],
  ]);
  const ledger = new UsageLedger(store, silent);
  const u = await ledger.projectUsage('shop', H - HOUR_MS, H + HOUR_MS, true, H + HOUR_MS);
  // Running: -10..40 s (50 s) and 100..111 s (11 s).
  assert.equal(seconds(u.total), 61);
  // 30 s at 0.25, 10 s at 1, 10 s at 0.5, then 11 s at 0.5.
  assert.equal(cuSeconds(u.total), 30 * 0.25 + 10 * 1 + 10 * 0.5 + 11 * 0.5);
  assert.deepEqual(
    u.hours.map((h) => ({ start: h.start - H, seconds: seconds(h), cu: cuSeconds(h) })),
    [
      { start: -HOUR_MS, seconds: 10, cu: 2.5 },
      { start: 0, seconds: 51, cu: 20 * 0.25 + 10 * 1 + 10 * 0.5 + 11 * 0.5 },
    ],
  );
  // A range that cuts the resized stretch in half.
  const cut = await ledger.projectUsage('shop', H + 25_000, H + 35_000, false, H + HOUR_MS);
  assert.deepEqual([seconds(cut.total), cuSeconds(cut.total)], [10, 5 * 1 + 5 * 0.5]);

  // A resize recorded with no change of state wrote an event of its own, at its size.
  const events = await store.projectEvents('shop', H + HOUR_MS);
  assert.deepEqual(
    events.map((e) => [e.at - H, e.state, e.cuMilli]),
    [
      [-10_000, 'starting', 250],
      [-9_000, 'active', 250],
      [20_000, 'active', 1000],
      [30_000, 'active', 500],
      [40_000, 'frozen', 500],
      [100_000, 'starting', 500],
      [101_000, 'active', 500],
      [110_000, 'stopping', 500],
      [111_000, 'stopped', 500],
    ],
  );
  await store.close();

  // Another control plane (or this one restarted) reads the same from the store.
  const reopened = (await openStateStore({ location })).store;
  t.after(() => reopened.close());
  const again = new UsageLedger(reopened, silent);
  assert.equal(cuSeconds((await again.projectUsage('shop', 0, H + HOUR_MS, false, H + HOUR_MS)).total), 28);
  const q = new URLSearchParams({ from: new Date(H - HOUR_MS).toISOString(), to: new Date(H + HOUR_MS).toISOString(), granularity: 'hour' });
  const exported = await allUsage(again, q);
  assert.deepEqual(exported.projects, [
    {
      project: 'shop',
      computeSeconds: 61,
      cuSeconds: 28,
      hours: [
        { hour: new Date(H - HOUR_MS).toISOString(), computeSeconds: 10, cuSeconds: 2.5 },
        { hour: new Date(H).toISOString(), computeSeconds: 51, cuSeconds: 25.5 },
      ],
    },
  ]);
  const metrics = await usageMetricsText(again, H + HOUR_MS);
  assert.match(metrics, /^wakeproxy_project_cu_seconds_total\{project="shop"\} 28$/m);
  assert.match(metrics, /^wakeproxy_project_compute_seconds_total\{project="shop"\} 61$/m);
});

test('a compute still running counts up to now at its current size', async (t) => {
  const { store } = await openStateStore({ location: ':memory:' });
  t.after(() => store.close());
  await store.createProject(project, compute);
  await script(store, [
    [0, { state: 'starting', sizeMilli: 500 }],
    [1_000, { state: 'active', sizeMilli: 750 }],
  ]);
  const u = await new UsageLedger(store, silent).projectUsage('shop', H, H + HOUR_MS, false, H + 5_000);
  assert.deepEqual([seconds(u.total), cuSeconds(u.total)], [5, 0.5 + 4 * 0.75]);
});
