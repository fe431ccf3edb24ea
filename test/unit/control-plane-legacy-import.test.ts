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

const VERIFIER = '*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19';
const silent = pino({ level: 'silent' });

/** state.json as the file-based control plane wrote it (two projects, one with read accounts). */
const STATE = {
  version: 1,
  projects: [
    { id: 'shop', name: 'shop', createdAt: '2024-05-01T00:00:00.000Z', ownerUser: 'owner', ownerVerifier: VERIFIER, computeId: 'shop-c1', computeSeq: 1 },
    { id: 'blog', name: 'blog', createdAt: '2024-05-02T00:00:00.000Z', ownerUser: 'owner', ownerVerifier: VERIFIER, computeId: 'blog-c2', computeSeq: 2 },
  ],
  computes: [
    {
      id: 'shop-c1',
      projectId: 'shop',
      state: 'frozen',
      endpoint: { host: '127.0.0.1', port: 41000 },
      createdAt: '2024-05-01T00:00:00.000Z',
      updatedAt: '2024-05-01T01:00:00.000Z',
      resumeCount: 4,
      control: { user: 'wakeproxy_ctl', password: 'ctl-secret' },
      accounts: {
        readAt: '2024-05-01T00:59:00.000Z',
        accounts: [{ user: 'app', host: '%', methods: [{ plugin: 'mysql_native_password', verifier: VERIFIER }], locked: false, passwordExpired: false, passwordLastChanged: 0, passwordLifetime: -1, ssl: 'none', neverBlocked: false, version: 'v1' }],
        policy: { defaultPasswordLifetime: 0, disconnectOnExpiredPassword: false, maxPasswordErrors: 0 },
      },
    },
    { id: 'blog-c2', projectId: 'blog', state: 'stopped', createdAt: '2024-05-02T00:00:00.000Z', updatedAt: '2024-05-02T00:00:00.000Z', resumeCount: 0, lastError: 'earlier crash' },
  ],
};

/** shop ran 10 s, froze, ran 5 s more; a compute deleted long ago ran 3 s; the last line was cut by a crash. */
const EVENTS = [
  { at: 1_000, project: 'shop', compute: 'shop-c1', run: true },
  { at: 11_000, project: 'shop', compute: 'shop-c1', run: false },
  { at: 20_000, project: 'shop', compute: 'shop-c1', run: true },
  { at: 25_000, project: 'shop', compute: 'shop-c1', run: false },
  { at: 30_000, project: 'blog', compute: 'blog-c1', run: true },
  { at: 33_000, project: 'blog', compute: 'blog-c1', run: false },
].map((e) => JSON.stringify(e)).join('\n') + '\n{"at": 40000, "proj';

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
  assert.deepEqual(await store.getProject('blog'), STATE.projects[1]);
  const shop = (await store.getCompute('shop-c1'))!;
  assert.equal(shop.state, 'frozen');
  assert.equal(shop.resumeCount, 4);
  assert.deepEqual(shop.endpoint, { host: '127.0.0.1', port: 41000 });
  assert.deepEqual(shop.control, { user: 'wakeproxy_ctl', password: 'ctl-secret' });
  assert.equal(shop.placement, 'process:here');
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
