// What MariaDB's session tracker reports when a session sets a charset or a collation of
// the two pairs transaction pooling replays (backend/session-settings.ts): setting a
// charset alone names only the charset, though it also makes the collation the charset's
// default; setting a collation alone names only the collation, though it also sets the
// charset; both in one statement name both, as they end. The replay is built on exactly
// this, so a server that reports otherwise fails here first.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { nativePasswordStage1 } from '../../protocol/auth/native-password.js';
import { readSessionState } from '../../protocol/session-state.js';
import { runQuery } from '../../backend/query.js';
import { loginBackend, type LoggedInBackend } from '../../backend/login.js';
import { TRACKING_ON } from '../../backend/session-settings.js';
import { startStandaloneMariadb, type StandaloneMariadb } from '../helpers/standalone-mariadb.js';
import { CLIENT_CAPS, exec, keyFor } from './pool-support.js';

let db: StandaloneMariadb;
before(async () => {
  db = await startStandaloneMariadb('app', 'app-secret');
});
after(async () => {
  await db?.stop();
});

const READ = 'SELECT @@character_set_server, @@collation_server, @@character_set_connection, @@collation_connection';

/** Each statement on a fresh tracked session (a latin1 server, a utf8mb4 connection): what its OK names, and the four values after it. */
async function reports(statements: string[]): Promise<Array<{ reported: string[]; after: string }>> {
  const b: LoggedInBackend = await loginBackend(keyFor(db), nativePasswordStage1('app-secret'), { timeoutMs: 5_000 });
  const target = { socket: b.socket, capabilities: CLIENT_CAPS, mariadbCapabilities: 0 };
  try {
    await exec(target, TRACKING_ON);
    const out: Array<{ reported: string[]; after: string }> = [];
    for (const sql of statements) {
      const reply = await runQuery(target, sql);
      if (reply.kind !== 'ok') throw new Error(`${sql}: ${reply.kind}`);
      const reported: string[] = [];
      const state = reply.ok.sessionState;
      if (state) {
        readSessionState(state, 0, state.length, {
          variable: (name, value) => {
            if (/^(character_set|collation)_(server|connection)$/.test(name)) reported.push(`${name}=${value}`);
          },
          schema() {},
          stateChanged() {},
          other() {},
        });
      }
      const row = await runQuery(target, READ);
      if (row.kind !== 'rows') throw new Error(`${READ}: ${row.kind}`);
      out.push({ reported: reported.sort(), after: row.rows[0]!.join(' ') });
    }
    return out;
  } finally {
    b.socket.destroy();
  }
}

test('character_set_server alone: only it is reported, collation_server becomes its default unreported', async () => {
  const [set, again] = await reports(["SET collation_server = 'latin1_bin'", "SET character_set_server = 'utf8mb4'", "SET collation_server = 'utf8mb4_unicode_ci'", "SET character_set_server = 'utf8mb4'"]).then((r) => [r[1]!, r[3]!]);
  assert.deepEqual(set, { reported: ['character_set_server=utf8mb4'], after: 'utf8mb4 utf8mb4_general_ci utf8mb4 utf8mb4_general_ci' });
  // To the charset it already has: the collation goes back to the default all the same.
  assert.deepEqual(again, { reported: ['character_set_server=utf8mb4'], after: 'utf8mb4 utf8mb4_general_ci utf8mb4 utf8mb4_general_ci' });
});

test('collation_server alone: only it is reported, character_set_server becomes its charset unreported', async () => {
  const [r] = await reports(["SET collation_server = 'utf8mb4_unicode_ci'"]);
  assert.deepEqual(r, { reported: ['collation_server=utf8mb4_unicode_ci'], after: 'utf8mb4 utf8mb4_unicode_ci utf8mb4 utf8mb4_general_ci' });
});

test('both in one statement: both reported as they end, in either order', async () => {
  const [first, second] = await reports(['SET character_set_server = utf8mb4, collation_server = utf8mb4_bin', 'SET collation_server = latin1_bin, character_set_server = utf8mb4']);
  assert.deepEqual(first, { reported: ['character_set_server=utf8mb4', 'collation_server=utf8mb4_bin'], after: 'utf8mb4 utf8mb4_bin utf8mb4 utf8mb4_general_ci' });
  assert.deepEqual(second, { reported: ['character_set_server=utf8mb4', 'collation_server=utf8mb4_general_ci'], after: 'utf8mb4 utf8mb4_general_ci utf8mb4 utf8mb4_general_ci' });
});

test("DBD::MariaDB's connect-time statements: SET NAMES names no collation, the others each name one variable", async () => {
  const r = await reports(["SET NAMES 'utf8mb4'", "SET character_set_server = 'utf8mb4'", "SET collation_connection = 'utf8mb4_unicode_ci'", "SET collation_server = 'utf8mb4_unicode_ci'"]);
  assert.deepEqual(r, [
    { reported: ['character_set_connection=utf8mb4'], after: 'latin1 latin1_swedish_ci utf8mb4 utf8mb4_general_ci' },
    { reported: ['character_set_server=utf8mb4'], after: 'utf8mb4 utf8mb4_general_ci utf8mb4 utf8mb4_general_ci' },
    { reported: ['collation_connection=utf8mb4_unicode_ci'], after: 'utf8mb4 utf8mb4_general_ci utf8mb4 utf8mb4_unicode_ci' },
    { reported: ['collation_server=utf8mb4_unicode_ci'], after: 'utf8mb4 utf8mb4_unicode_ci utf8mb4 utf8mb4_unicode_ci' },
  ]);
});

test('SET STATEMENT character_set_server ... FOR: its own OK names the value for the statement; its restore, reported with the next statement, names the charset only and leaves the default collation', async () => {
  const r = await reports(["SET collation_server = 'latin1_bin'", "SET STATEMENT character_set_server = 'utf8mb4' FOR DO 1", "SET time_zone = '+01:00'"]);
  assert.deepEqual(r.slice(1), [
    // The collation it had (latin1_bin) is gone: the restore set the charset, and with it the default collation.
    { reported: ['character_set_server=utf8mb4'], after: 'latin1 latin1_swedish_ci utf8mb4 utf8mb4_general_ci' },
    { reported: ['character_set_server=latin1'], after: 'latin1 latin1_swedish_ci utf8mb4 utf8mb4_general_ci' },
  ]);
});
