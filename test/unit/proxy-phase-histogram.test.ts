// The connect-phase histogram reads out exactly as prom-client's own Histogram would
// with the same observations: /metrics and get() cannot tell them apart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Histogram, Registry } from 'prom-client';
import { PhaseHistogram } from '../../proxy/phase-histogram.js';

const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const NAME = 'wakeproxy_connect_phase_seconds';
const HELP = 'Time a new client spends in each phase';

function pair(): { ours: PhaseHistogram<'phase'>; theirs: Histogram<'phase'>; a: Registry; b: Registry } {
  const a = new Registry();
  const b = new Registry();
  const ours = new PhaseHistogram(NAME, HELP, 'phase', BUCKETS, a);
  const theirs = new Histogram({ name: NAME, help: HELP, labelNames: ['phase'], buckets: BUCKETS, registers: [b] });
  return { ours, theirs, a, b };
}

test('the same observations read out the same, in text and through get()', async () => {
  const { ours, theirs, a, b } = pair();
  assert.equal(await a.metrics(), await b.metrics(), 'nothing observed yet');
  const values = [0, 0.0005, 0.00050001, 0.003, 0.25, 29.9, 30, 31, 1e6, 0.1 + 0.2];
  for (const [i, v] of values.entries()) {
    const labels = { phase: ['wake', 'auth', 'backend_connect', 'total'][i % 4]! };
    ours.observe(labels, v);
    theirs.observe(labels, v);
  }
  assert.equal(await a.metrics(), await b.metrics());
  // As data too (a property prom-client sets to undefined aside).
  const plain = (x: unknown) => JSON.parse(JSON.stringify(x)) as unknown;
  assert.deepEqual(plain(await ours.get()), plain(await theirs.get()));
  ours.reset();
  theirs.reset();
  assert.equal(await a.metrics(), await b.metrics());
});

test('a value that is not a number is refused, as prom-client refuses it', () => {
  const { ours, theirs } = pair();
  for (const v of [NaN, Infinity]) {
    assert.throws(() => ours.observe({ phase: 'wake' }, v), TypeError);
    assert.throws(() => theirs.observe({ phase: 'wake' }, v), TypeError);
  }
});
