import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createStateStore } from '../../control-plane/state-store.js';
import type { StoredState } from '../../control-plane/records.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';

let dir: TempDir;
before(async () => {
  dir = await makeTempDir('wake-proxy-cp-store-');
});
after(async () => {
  await dir.remove();
});

function stateWith(n: number): StoredState {
  const at = new Date(0).toISOString();
  return {
    version: 1,
    projects: Array.from({ length: n }, (_, i) => ({
      id: `p${i}`,
      name: `p${i}`,
      createdAt: at,
      ownerUser: 'owner',
      ownerVerifier: '*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19',
      computeId: null,
      computeSeq: 0,
    })),
    computes: [],
  };
}

test('a missing file loads as an empty state', async () => {
  const store = createStateStore(join(dir.path, 'fresh'));
  assert.deepEqual(await store.load(), { version: 1, projects: [], computes: [] });
});

test('saves round-trip, land whole, are private, and leave no temporary files', async () => {
  const store = createStateStore(dir.path);
  await store.save(() => stateWith(2));
  assert.deepEqual(await store.load(), stateWith(2));
  assert.equal((await stat(store.path)).mode & 0o777, 0o600);
  assert.deepEqual(await readdir(dir.path), ['state.json']);
});

test('a burst of saves ends with the newest state on disk', async () => {
  const store = createStateStore(dir.path);
  let current = 0;
  const saves = [];
  for (let i = 1; i <= 50; i++) {
    current = i;
    saves.push(store.save(() => stateWith(current)));
  }
  await Promise.all(saves);
  assert.equal((await store.load()).projects.length, 50);
});

test('a corrupt or foreign file is an error naming the file, not an empty start', async () => {
  const store = createStateStore(dir.path);
  await writeFile(store.path, '{"version": 1, "projects": [');
  await assert.rejects(store.load(), (err: Error) => err.message.includes(store.path) && /not valid JSON/.test(err.message));
  await writeFile(store.path, JSON.stringify({ version: 7, projects: [], computes: [] }));
  await assert.rejects(store.load(), /unknown layout \(version 7\)/);
  assert.match(await readFile(store.path, 'utf8'), /"version":7/, 'a failed load leaves the file alone');
});
