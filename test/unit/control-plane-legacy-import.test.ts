// The first start with a state store imports what older control planes kept in
// files: state.json (projects, computes, their accounts) and
// usage-events.jsonl (when computes ran). Once, then the files are renamed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { openStateStore } from '../../control-plane/store/sql-state-store.js';
import { UsageLedger } from '../../control-plane/usage-ledger.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { LEGACY_EVENTS as EVENTS, LEGACY_STATE as STATE } from '../helpers/legacy-state.js';

const silent = pino({ level: 'silent' });

test('state.json and usage-events.jsonl are imported once, whole, and renamed', async (t) => {
  const dir = await makeTempDir();
  t.after(() => dir.remove());
  await writeFile(join(dir.path, 'state.json'), JSON.stringify(STATE, null, 2));
  await writeFile(join(dir.path, 'usage-events.jsonl'), EVENTS);
  const legacy = { dataDir: dir.path, placement: 'process:here' };
  const location = join(dir.path, 'state.db');

  const first = await openStateStore({ location, legacy });
  assert.deepEqual(first.imported, { projects: 2, computes: 2, events: 6, skippedLines: 0 });
  const store = first.store;
  assert.deepEqual((await store.listProjects()).map((p) => p.id), ['shop', 'blog']);
  // Older control planes had no sizes or plans: the default range, unlimited.
  assert.deepEqual(await store.getProject('blog'), { ...STATE.projects[1], range: { minMilli: 250, maxMilli: 1000 }, quota: { cuMsPerMonth: null, storageBytes: null } });
  const shop = (await store.getCompute('shop-c1'))!;
  assert.equal(shop.state, 'frozen');
  assert.equal(shop.resumeCount, 4);
  assert.deepEqual(shop.endpoint, { host: '127.0.0.1', port: 41000 });
  assert.deepEqual(shop.control, { user: 'wakeproxy_ctl', password: 'ctl-secret' });
  assert.equal(shop.placement, 'process:here');
  assert.equal(shop.sizeMilli, 250);
  assert.equal(shop.owner, undefined, 'nobody watches it yet: the leader adopts it');
  assert.deepEqual(await store.getAccounts('shop-c1'), STATE.computes[0]!.accounts);
  assert.equal((await store.getCompute('blog-c2'))!.lastError, 'earlier crash');
  const ledger = new UsageLedger(store, silent);
  assert.equal(await ledger.computeSeconds('shop', 0, 100_000), 15);
  assert.equal(await ledger.computeSeconds('blog', 0, 100_000), 3);
  await store.close();
  assert.deepEqual((await readdir(dir.path)).filter((f) => !f.startsWith('state.db')).sort(), ['state.json.imported', 'usage-events.jsonl.imported']);

  // Put back (an operator restoring a backup, say): the store has projects, so nothing is imported over them.
  await writeFile(join(dir.path, 'state.json'), JSON.stringify(STATE));
  await assert.rejects(openStateStore({ location, legacy }), /would be imported, but the state store .* already holds projects/);
});

test('a corrupt state.json stops the start with an error naming it, and the store stays empty', async (t) => {
  const dir = await makeTempDir();
  t.after(() => dir.remove());
  await writeFile(join(dir.path, 'state.json'), '{"version": 1, "projects": [');
  const location = join(dir.path, 'state.db');
  await assert.rejects(openStateStore({ location, legacy: { dataDir: dir.path, placement: 'p' } }), /state\.json is not valid JSON/);
  const { store } = await openStateStore({ location });
  assert.deepEqual(await store.listProjects(), []);
  await store.close();
});
