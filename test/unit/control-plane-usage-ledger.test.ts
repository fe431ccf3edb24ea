// Compute seconds from transitions: running periods, ranges, and what survives
// a reopen of the ledger file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { UsageLedger } from '../../control-plane/usage-ledger.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const silent = pino({ level: 'silent' });
const ev = (state: any, at: number, computeId = 'shop-c1') => ({ computeId, projectId: 'shop', state, at });

test('only starting, active and stopping count; ranges cut periods; reopening keeps them', async (t) => {
  const dir = await makeTempDir();
  t.after(() => dir.remove());
  const ledger = await UsageLedger.open(dir.path, silent);
  ledger.record(ev('starting', 1_000));
  ledger.record(ev('active', 3_000));
  ledger.record(ev('frozen', 11_000));
  ledger.record(ev('starting', 20_000));
  ledger.record(ev('active', 20_010));
  ledger.record(ev('stopping', 25_000));
  ledger.record(ev('stopped', 26_000));
  assert.equal(ledger.computeSeconds('shop', 0, 100_000), 16);
  assert.equal(ledger.computeSeconds('shop', 5_000, 21_000), 7);
  assert.equal(ledger.computeSeconds('blog', 0, 100_000), 0);
  ledger.record(ev('starting', 30_000));
  assert.equal(ledger.computeSeconds('shop', 0, 100_000, 40_000), 26, 'an open period counts up to now');
  await ledger.flushed();

  const again = await UsageLedger.open(dir.path, silent);
  assert.equal(again.computeSeconds('shop', 0, 100_000, 40_000), 26);
  again.record(ev('deleted', 35_000));
  assert.equal(again.computeSeconds('shop', 0, 100_000, 90_000), 21);
});

test('computes missing at start are closed so they stop counting', async (t) => {
  const dir = await makeTempDir();
  t.after(() => dir.remove());
  const ledger = await UsageLedger.open(dir.path, silent);
  ledger.record(ev('active', 0, 'gone-c1'));
  ledger.closeMissing(new Set(), () => undefined, 5_000);
  assert.equal(ledger.computeSeconds('shop', 0, 100_000, 100_000), 5);
});
