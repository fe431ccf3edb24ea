// The replayed session settings: how a report's charsets settle their collations, and the
// one SET that makes a connection's settings a client's, for the two coupled pairs
// (character_set_connection/collation_connection, character_set_server/collation_server).
// What MariaDB 10.11 reports for each SET is checked against a real server in
// test/integration/pool-tracker-charsets.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_COLLATION,
  REPLAYED_VARIABLES,
  UNKNOWN_COLLATION,
  replaySql,
  replayedIndex,
  reportBit,
  settleReport,
  type SessionSettings,
} from '../../backend/session-settings.js';
import { judgeQuery } from '../../relay/pin-rules.js';

const LOGIN: Record<string, string> = {
  character_set_client: 'utf8mb4',
  character_set_results: 'utf8mb4',
  character_set_connection: 'utf8mb4',
  collation_connection: 'utf8mb4_general_ci',
  character_set_server: 'latin1',
  collation_server: 'latin1_swedish_ci',
  time_zone: 'SYSTEM',
  sql_mode: 'STRICT_TRANS_TABLES',
  tx_isolation: 'REPEATABLE-READ',
  tx_read_only: 'OFF',
};

function settings(over: Record<string, string> = {}): SessionSettings {
  const all = { ...LOGIN, ...over };
  return { values: REPLAYED_VARIABLES.map((v) => all[v]!), database: 'app', lastInsertId: '0' };
}

/** A report naming `names` settled on `s` (the values as reported, like TrackedSession.variable). */
function report(s: SessionSettings, reported: Record<string, string>, afterNames?: string): SessionSettings {
  let bits = 0;
  for (const [name, value] of Object.entries(reported)) {
    const i = replayedIndex(name);
    s.values[i] = value;
    bits |= reportBit(i);
  }
  settleReport(s.values, bits, afterNames);
  return s;
}

const get = (s: SessionSettings, name: string) => s.values[replayedIndex(name)];

test('character_set_server and collation_server are replayed, and SET of them pins nothing when tracked', () => {
  assert.ok(replayedIndex('character_set_server') >= 0 && replayedIndex('collation_server') >= 0);
  // DBD::MariaDB's connect-time statements.
  for (const sql of ["SET NAMES 'utf8mb4'", "SET character_set_server = 'utf8mb4'", "SET collation_connection = 'utf8mb4_unicode_ci'", "SET collation_server = 'utf8mb4_unicode_ci'", 'SET @@SESSION.collation_server = DEFAULT, character_set_server = latin1']) {
    assert.equal(judgeQuery(Buffer.from(sql), true).pin, null, sql);
  }
  // The database's pair is not replayed (USE sets it): still pinned.
  assert.equal(judgeQuery(Buffer.from('SET character_set_database = utf8mb4'), true).pin, 'set_statement');
});

test('a charset reported alone leaves its collation the default; a collation alone or both reported are kept as reported', () => {
  const server = report(settings({ collation_server: 'latin1_bin' }), { character_set_server: 'utf8mb4' });
  assert.equal(get(server, 'character_set_server'), 'utf8mb4');
  assert.equal(get(server, 'collation_server'), DEFAULT_COLLATION);
  const both = report(settings(), { character_set_server: 'utf8mb4', collation_server: 'utf8mb4_bin' });
  assert.equal(get(both, 'collation_server'), 'utf8mb4_bin');
  // The charset follows the collation on the server, unreported: left as it was, the collation says the pair.
  const collation = report(settings(), { collation_server: 'utf8mb4_unicode_ci' });
  assert.deepEqual([get(collation, 'character_set_server'), get(collation, 'collation_server')], ['latin1', 'utf8mb4_unicode_ci']);
  // The connection's pair as before: SET NAMES without COLLATE, and with (the statement's text names it).
  const names = report(settings(), { character_set_client: 'latin1', character_set_connection: 'latin1', character_set_results: 'latin1' });
  assert.equal(get(names, 'collation_connection'), DEFAULT_COLLATION);
  assert.equal(get(names, 'collation_server'), 'latin1_swedish_ci', 'the server pair untouched');
  const collate = report(settings(), { character_set_connection: 'utf8mb4' }, 'utf8mb4_bin');
  assert.equal(get(collate, 'collation_connection'), 'utf8mb4_bin');
  // One report may name one pair's charset and the other's collation.
  const mixed = report(settings(), { character_set_connection: 'latin1', collation_server: 'utf8mb4_bin', character_set_server: 'utf8mb4' });
  assert.deepEqual([get(mixed, 'collation_connection'), get(mixed, 'collation_server')], [DEFAULT_COLLATION, 'utf8mb4_bin']);
});

test('the replay of the server pair: the collation when known (it sets the charset too), else the charset', () => {
  const cases: Array<[string, Record<string, string>, Record<string, string>, string | null]> = [
    ['equal', {}, {}, null],
    ['a collation', { character_set_server: 'utf8mb4', collation_server: 'utf8mb4_unicode_ci' }, {}, "SET SESSION collation_server='utf8mb4_unicode_ci'"],
    ['a charset, its collation the default', { character_set_server: 'utf8mb4', collation_server: DEFAULT_COLLATION }, {}, "SET SESSION character_set_server='utf8mb4'"],
    ['back to a login collation from a default one', {}, { character_set_server: 'utf8mb4', collation_server: DEFAULT_COLLATION }, "SET SESSION collation_server='latin1_swedish_ci'"],
    ['a default collation over an explicit one of the same charset', { collation_server: DEFAULT_COLLATION }, {}, "SET SESSION character_set_server='latin1'"],
    ['both default, same charset', { character_set_server: 'utf8mb4', collation_server: DEFAULT_COLLATION }, { character_set_server: 'utf8mb4', collation_server: DEFAULT_COLLATION }, null],
    // A charset left stale beside the same collation: equal in effect.
    ['stale charset', { character_set_server: 'latin1', collation_server: 'utf8mb4_bin' }, { character_set_server: 'utf8mb4', collation_server: 'utf8mb4_bin' }, null],
    ['unknown on the connection', {}, { collation_server: UNKNOWN_COLLATION }, "SET SESSION collation_server='latin1_swedish_ci'"],
    ['unknown, default wanted', { collation_server: DEFAULT_COLLATION }, { collation_server: UNKNOWN_COLLATION }, "SET SESSION character_set_server='latin1'"],
    [
      'with SET NAMES',
      { character_set_client: 'latin1', character_set_connection: 'latin1', character_set_results: 'latin1', collation_connection: DEFAULT_COLLATION, character_set_server: 'utf8mb4', collation_server: DEFAULT_COLLATION },
      {},
      "SET SESSION character_set_client='latin1', character_set_results='latin1', character_set_connection='latin1', character_set_server='utf8mb4'",
    ],
    [
      "Perl's connect",
      { collation_connection: 'utf8mb4_unicode_ci', character_set_server: 'utf8mb4', collation_server: 'utf8mb4_unicode_ci' },
      {},
      "SET SESSION collation_connection='utf8mb4_unicode_ci', collation_server='utf8mb4_unicode_ci'",
    ],
  ];
  for (const [name, wanted, current, sql] of cases) assert.equal(replaySql(settings(wanted), settings(current)), sql, name);
});

test('a collation the proxy cannot know is replayed over for the connection pair too', () => {
  assert.equal(replaySql(settings(), settings({ collation_connection: UNKNOWN_COLLATION })), "SET SESSION collation_connection='utf8mb4_general_ci'");
  assert.equal(
    replaySql(settings({ collation_connection: DEFAULT_COLLATION }), settings({ collation_connection: UNKNOWN_COLLATION })),
    "SET SESSION character_set_connection='utf8mb4'",
  );
});
