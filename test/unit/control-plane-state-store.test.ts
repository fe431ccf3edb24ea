// The state store on SQLite files: the backend contract (shared with the
// PostgreSQL test), the file's privacy, and two stores on one file as two
// control planes on one host would have.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openStateStore } from '../../control-plane/store/sql-state-store.js';
import { stateStoreContract } from '../helpers/state-store-contract.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';

let dir: TempDir;
before(async () => {
  dir = await makeTempDir('wake-proxy-cp-store-');
});
after(async () => {
  await dir.remove();
});

let files = 0;
stateStoreContract('sqlite', () => {
  const file = join(dir.path, `contract-${++files}.db`);
  return {
    open: async () => (await openStateStore({ location: file })).store,
    async raw(sql) {
      const db = new Database(file);
      try {
        const stmt = db.prepare(sql);
        return stmt.reader ? stmt.all() : (stmt.run(), []);
      } finally {
        db.close();
      }
    },
  };
});

test('the state file and its write-ahead log are private (0600), also when the file existed with looser rights', async () => {
  const file = join(dir.path, 'private.db');
  const { store } = await openStateStore({ location: file });
  const c = { id: 'p-c1', projectId: 'p', state: 'stopped' as const, createdAt: 'a', updatedAt: 'a', resumeCount: 0, version: 1, sizeMilli: 250 };
  const range = { minMilli: 250, maxMilli: 1000 };
  const quota = { cuMsPerMonth: null, storageBytes: null };
  await store.createProject({ id: 'p', name: 'p', createdAt: 'a', ownerUser: 'owner', ownerVerifier: '*00', computeId: 'p-c1', computeSeq: 1, range, quota }, c);
  for (const name of (await readdir(dir.path)).filter((n) => n.startsWith('private.db'))) {
    assert.equal((await stat(join(dir.path, name))).mode & 0o777, 0o600, name);
  }
  await store.close();

  const loose = join(dir.path, 'loose.db');
  await writeFile(loose, '', { mode: 0o644 });
  const reopened = await openStateStore({ location: loose });
  assert.equal((await stat(loose)).mode & 0o777, 0o600);
  await reopened.store.close();
});

test('a file that is not a SQLite database stops the start with an error naming it', async () => {
  const file = join(dir.path, 'garbage.db');
  await writeFile(file, 'this is not a database, and it is long enough to have a header of sorts\n'.repeat(20), { mode: 0o600 });
  await assert.rejects(openStateStore({ location: file }), (err: Error) => err.message.includes(file) && /not a database/.test(err.message));
});
