// The state store on a real PostgreSQL (Debian's package, started by the test
// on a free loopback port): the same contract as SQLite's, plus what only a
// server shows: two control planes migrating one database at once, and a
// password that never reaches an error message.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { openStateStore } from '../../control-plane/store/sql-state-store.js';
import { SCHEMA_VERSION } from '../../control-plane/store/schema.js';
import { startPostgres, type PostgresServer } from '../helpers/postgres-server.js';
import { stateStoreContract } from '../helpers/state-store-contract.js';

let server: PostgresServer;
let databases = 0;

before(async () => {
  server = await startPostgres();
});
after(async () => {
  await server?.close();
});

async function raw(url: string, sql: string): Promise<unknown[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

stateStoreContract('postgres', () => {
  // The database is made on first use: one per test, so tests share nothing.
  let url: Promise<string> | undefined;
  const db = () => (url ??= server.createDatabase(`contract_${++databases}`));
  return {
    open: async () => (await openStateStore({ location: await db() })).store,
    raw: async (sql) => raw(await db(), sql),
  };
});

test('postgres: control planes starting at once migrate the schema once', async () => {
  const url = await server.createDatabase('concurrent_migration');
  const opened = await Promise.all(Array.from({ length: 4 }, () => openStateStore({ location: url })));
  assert.deepEqual(opened.map((o) => o.schema.from).sort(), [0, SCHEMA_VERSION, SCHEMA_VERSION, SCHEMA_VERSION]);
  for (const o of opened) await o.store.close();
});

test('postgres: a wrong password fails the start with a message that does not hold it', async () => {
  const url = `postgres://postgres:hunter2-secret@127.0.0.1:1/nowhere`;
  await assert.rejects(openStateStore({ location: url }), (err: Error) => {
    assert.match(err.message, /could not connect to the control-plane state postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:1\/nowhere/);
    assert.ok(!err.message.includes('hunter2'), err.message);
    return true;
  });
});
