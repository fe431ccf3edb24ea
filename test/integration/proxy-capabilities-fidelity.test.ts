// A differential sweep of client capability flags: a bare client logs in with one
// capability set and pipelines one fixed script, directly to mariadbd and through a
// proxy in pipe, session and transaction mode, and every byte after its login's OK is
// compared (the optimizer's plan flags masked). Flags that change what the server
// does (CLIENT_FOUND_ROWS, CLIENT_IGNORE_SPACE, CLIENT_INTERACTIVE, CLIENT_NO_SCHEMA,
// CLIENT_LOCAL_FILES, ...) must reach a compute connection logged in with them, never
// one another client's flags made: README, "Pool modes".
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import { startFidelityTargets, type FidelityTargets } from '../helpers/pooled-fidelity.js';
import { CLIENT_CAPS } from './pool-support.js';
import { command, packets, sql, wire } from '../helpers/wire-packets.js';
import { TurnClient } from '../helpers/wire-turns.js';
import { answerGreeting } from '../helpers/wire-exchange.js';
import {
  CLIENT_CONNECT_ATTRS,
  CLIENT_DEPRECATE_EOF,
  CLIENT_FOUND_ROWS,
  CLIENT_IGNORE_SPACE,
  CLIENT_INTERACTIVE,
  CLIENT_LOCAL_FILES,
  CLIENT_LONG_PASSWORD,
  CLIENT_MULTI_RESULTS,
  CLIENT_MULTI_STATEMENTS,
  CLIENT_NO_SCHEMA,
  CLIENT_PLUGIN_AUTH,
  CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA,
  CLIENT_PS_MULTI_RESULTS,
  CLIENT_SECURE_CONNECTION,
  CLIENT_SESSION_TRACK,
  CLIENT_TRANSACTIONS,
  COM_STMT_BULK_EXECUTE,
  COM_STMT_CLOSE,
  COM_STMT_EXECUTE,
  COM_STMT_PREPARE,
  MARIADB_CLIENT_CACHE_METADATA,
  MARIADB_CLIENT_EXTENDED_TYPE_INFO,
  MARIADB_CLIENT_PROGRESS,
  MARIADB_CLIENT_STMT_BULK_OPERATIONS,
  framePacket,
  scrambleNativePassword,
} from '../../protocol/index.js';

// A modern client (pool-support.ts) less what each set adds, with CLIENT_LOCAL_FILES, which
// a set takes away. No CLIENT_LONG_PASSWORD: that bit is CLIENT_MYSQL, a MySQL client, whose
// extended capabilities the server does not read.
const BASE = ((CLIENT_CAPS & ~(CLIENT_MULTI_STATEMENTS | CLIENT_SESSION_TRACK | CLIENT_DEPRECATE_EOF)) | CLIENT_LOCAL_FILES) >>> 0;
const ATTRIBUTES: Array<[string, string]> = [['_client_name', 'capabilities-sweep'], ['program_name', 'wire']];

interface CapabilitySet {
  capabilities: number;
  mariadbCapabilities: number;
}
const set = (add: number, remove = 0, mariadbCapabilities = 0): CapabilitySet => ({ capabilities: ((BASE | add) & ~remove) >>> 0, mariadbCapabilities });

const SETS: Record<string, CapabilitySet> = {
  base: set(0),
  deprecate_eof: set(CLIENT_DEPRECATE_EOF),
  session_track: set(CLIENT_SESSION_TRACK),
  session_track_deprecate_eof: set(CLIENT_SESSION_TRACK | CLIENT_DEPRECATE_EOF),
  no_multi_results: set(0, CLIENT_MULTI_RESULTS | CLIENT_PS_MULTI_RESULTS),
  multi_statements: set(CLIENT_MULTI_STATEMENTS),
  found_rows: set(CLIENT_FOUND_ROWS),
  ignore_space: set(CLIENT_IGNORE_SPACE),
  no_schema: set(CLIENT_NO_SCHEMA),
  no_local_files: set(0, CLIENT_LOCAL_FILES),
  interactive: set(CLIENT_INTERACTIVE),
  no_plugin_auth: set(0, CLIENT_PLUGIN_AUTH | CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA),
  no_connect_attrs: set(0, CLIENT_CONNECT_ATTRS),
  bulk: set(0, 0, MARIADB_CLIENT_STMT_BULK_OPERATIONS),
  extended_type_info: set(CLIENT_DEPRECATE_EOF, 0, MARIADB_CLIENT_EXTENDED_TYPE_INFO),
  progress: set(0, 0, MARIADB_CLIENT_PROGRESS),
  mysql_client: set(CLIENT_LONG_PASSWORD, 0, MARIADB_CLIENT_EXTENDED_TYPE_INFO),
  cache_metadata: set(CLIENT_DEPRECATE_EOF, 0, MARIADB_CLIENT_CACHE_METADATA),
  everything: set(CLIENT_DEPRECATE_EOF | CLIENT_SESSION_TRACK | CLIENT_MULTI_STATEMENTS | CLIENT_FOUND_ROWS | CLIENT_IGNORE_SPACE | CLIENT_NO_SCHEMA | CLIENT_INTERACTIVE, 0,
    MARIADB_CLIENT_STMT_BULK_OPERATIONS | MARIADB_CLIENT_EXTENDED_TYPE_INFO | MARIADB_CLIENT_PROGRESS),
};

let t: FidelityTargets;
before(async () => {
  // interactive_timeout apart from wait_timeout: CLIENT_INTERACTIVE shows in @@wait_timeout.
  t = await startFidelityTargets(['--interactive-timeout=1111', '--wait-timeout=2222'], ['passthrough', 'pipe', 'session', 'transaction']);
  const admin = await mysql.createConnection({ host: t.db.host, port: t.db.port, user: t.db.user, password: t.db.password });
  await admin.query("CREATE PROCEDURE fid.one_row() SELECT 1 AS one, 'x' AS label");
  await admin.end();
});
after(async () => {
  await t?.stop();
});

/** COM_STMT_EXECUTE of the statement prepared last (id 0xffffffff), two INT parameters. */
function execute(a: number, b: number): Buffer {
  const body = Buffer.alloc(4 + 1 + 4 + 1 + 1 + 4 + 8);
  let at = body.writeUInt32LE(0xffffffff, 0);
  at = body.writeUInt8(0, at);
  at = body.writeUInt32LE(1, at);
  at = body.writeUInt8(0, at); // null bitmap
  at = body.writeUInt8(1, at); // new parameters bound
  at = body.writeUInt16LE(3, at); // MYSQL_TYPE_LONG
  at = body.writeUInt16LE(3, at);
  at = body.writeInt32LE(a, at);
  body.writeInt32LE(b, at);
  return command(COM_STMT_EXECUTE, body);
}

/** COM_STMT_BULK_EXECUTE of the statement prepared last: two rows of two INT parameters. */
function bulkExecute(rows: Array<[number, number]>): Buffer {
  const head = Buffer.alloc(4 + 2 + 4);
  head.writeUInt32LE(0xffffffff, 0);
  head.writeUInt16LE(128, 4); // SEND_TYPES_TO_SERVER
  head.writeUInt16LE(3, 6);
  head.writeUInt16LE(3, 8);
  const values = rows.map(([a, b]) => {
    const v = Buffer.alloc(10);
    v.writeUInt8(0, 0);
    v.writeInt32LE(a, 1);
    v.writeUInt8(0, 5);
    v.writeInt32LE(b, 6);
    return v;
  });
  return command(COM_STMT_BULK_EXECUTE, Buffer.concat([head, ...values]));
}

const close = () => command(COM_STMT_CLOSE, Buffer.from([0xff, 0xff, 0xff, 0xff]));

/** The script every capability set runs; what a flag allows decides only what the client can send (a LOAD DATA LOCAL's file). */
function script(s: CapabilitySet): Buffer[] {
  return [
    sql('DROP TABLE IF EXISTS fid.c'),
    sql('CREATE TABLE fid.c (id INT PRIMARY KEY, v INT, w VARCHAR(3))'),
    sql("INSERT INTO fid.c VALUES (1, 1, 'a')"),
    sql('SELECT * FROM fid.kinds'),
    // Matches a row, changes none: 1 affected with CLIENT_FOUND_ROWS, else 0.
    sql('UPDATE fid.c SET v = 1 WHERE id = 1'),
    sql("INSERT IGNORE INTO fid.c VALUES (1, 5, 'b'), (2, 2, 'long')"),
    sql('SELECT nosuch FROM fid.c'),
    // A syntax error unless CLIENT_IGNORE_SPACE.
    sql('SELECT COUNT (*) FROM fid.c'),
    // The database part is ignored with CLIENT_NO_SCHEMA.
    sql('SELECT nosuch.c.id FROM fid.c'),
    sql('SELECT @@wait_timeout, @@sql_mode'),
    sql('START TRANSACTION'),
    sql("INSERT INTO fid.c VALUES (3, 3, 'c')"),
    sql('COMMIT'),
    sql("SET time_zone = '+01:00'"),
    sql('SET NAMES latin1'),
    sql("SET sql_mode = 'STRICT_ALL_TABLES'"),
    sql('USE fid'),
    command(COM_STMT_PREPARE, 'SELECT ?, i, s, j FROM fid.kinds WHERE i = ?'),
    execute(7, 1),
    close(),
    command(COM_STMT_PREPARE, "INSERT INTO fid.c VALUES (?, ?, 'z')"),
    bulkExecute([[10, 10], [11, 11]]),
    close(),
    // Without CLIENT_MULTI_RESULTS the server refuses a procedure's result set.
    sql('CALL fid.one_row()'),
    sql("LOAD DATA LOCAL INFILE 'rows.txt' INTO TABLE fid.c"),
    // The file: empty. A client that did not offer CLIENT_LOCAL_FILES sends none (its LOAD was refused).
    ...(s.capabilities & CLIENT_LOCAL_FILES ? [framePacket(Buffer.alloc(0), 2)] : []),
    // Two statements: a syntax error without CLIENT_MULTI_STATEMENTS.
    sql('SELECT 1 AS a; SELECT 2 AS b'),
    sql('SELECT * FROM fid.c ORDER BY id'),
    sql('DROP TABLE fid.c'),
  ];
}

const IDS = { statementIds: true, variableOrder: true };
// With a database: CLIENT_NO_SCHEMA reads `fid.c` as `c`, in it.
const loginOf = (s: CapabilitySet) => ({ ...s, database: 'fid', negotiate: true, ...(s.capabilities & CLIENT_CONNECT_ATTRS ? { connectAttributes: ATTRIBUTES } : {}) });

/** The first line where `got` and `expected` part, with both lines. */
function firstDifference(got: string[], expected: string[]): string | null {
  for (let i = 0; i < Math.max(got.length, expected.length); i++) {
    if (got[i] !== expected[i]) return `packet ${i}: got ${got[i] ?? '(none)'}\n    expected ${expected[i] ?? '(none)'}`;
  }
  return null;
}

/**
 * What a mode's greeting does not offer (README, "Pool modes"): transaction pooling
 * withholds MARIADB_CLIENT_CACHE_METADATA, so a client that negotiates is compared with a
 * direct session without it.
 */
const WITHHELD: Record<string, number> = { transaction: MARIADB_CLIENT_CACHE_METADATA };
const offered = (s: CapabilitySet, mode: string): CapabilitySet => ({ ...s, mariadbCapabilities: (s.mariadbCapabilities & ~(WITHHELD[mode] ?? 0)) >>> 0 });

test('each capability set: the same reply bytes through every mode as directly', async () => {
  const differences: string[] = [];
  for (const [name, s] of Object.entries(SETS)) {
    const direct = new Map<number, string[]>();
    for (const [mode, port] of t.targets().slice(1)) {
      const o = offered(s, mode);
      if (!direct.has(o.mariadbCapabilities)) direct.set(o.mariadbCapabilities, packets(await wire(t.db.port, script(o), loginOf(o)), IDS));
      // Twice: the second client gets the connection the first left (reset, in session mode).
      for (const run of ['first', 'second']) {
        let d: string | null;
        try {
          d = firstDifference(packets(await wire(port, script(s), loginOf(s)), IDS), direct.get(o.mariadbCapabilities)!);
        } catch (err) {
          d = (err as Error).message;
        }
        if (d) differences.push(`${name} via ${mode}, ${run} client: ${d}`);
      }
    }
  }
  assert.deepEqual(differences, []);
});

/** Two clients of one user, each with its own capability set, taking turns: every reply byte each got. */
async function takeTurns(port: number, sets: [CapabilitySet, CapabilitySet], turns: Array<[0 | 1, string]>): Promise<string[][]> {
  const clients = [await TurnClient.connect(port, loginOf(sets[0])), await TurnClient.connect(port, loginOf(sets[1]))];
  for (const [who, text] of turns) await clients[who]!.query(text);
  return Promise.all(clients.map(async (c) => packets(await c.quit(), IDS)));
}

const TURNS: Array<[0 | 1, string]> = [
  [0, "SET time_zone = '+03:00'"],
  [1, 'SELECT @@time_zone, @@wait_timeout'],
  [0, 'SELECT @@time_zone, @@wait_timeout'],
  [1, 'SET NAMES latin1'],
  [0, "SELECT 'h\u00e9' AS e, @@character_set_results"],
  [1, "SELECT 'h\u00e9' AS e, @@character_set_results"],
  // Matches a row, changes none: what each is told depends on its own CLIENT_FOUND_ROWS.
  [0, 'UPDATE fid.kinds SET f = f WHERE i = 1'],
  [1, 'UPDATE fid.kinds SET f = f WHERE i = 1'],
  [0, 'START TRANSACTION'],
  [1, "SET sql_mode = 'ANSI_QUOTES'"],
  // A syntax error unless the client's own CLIENT_IGNORE_SPACE.
  [0, 'SELECT COUNT (*) FROM fid.kinds'],
  [1, 'SELECT COUNT (*) FROM fid.kinds'],
  [0, 'COMMIT'],
  [1, 'SELECT @@sql_mode'],
  [0, 'SELECT @@sql_mode'],
  [1, 'USE fid'],
  [0, 'SELECT * FROM fid.kinds'],
  [1, 'SELECT * FROM fid.kinds'],
  // The clients' own trackers: as the proxy runs them (no pin), then otherwise (a pin).
  [0, 'SET session_track_state_change = ON'],
  [1, 'SET session_track_state_change = ON'],
  [0, "SET time_zone = '+04:00'"],
  [1, "SET time_zone = '+04:00'"],
  [0, "SET session_track_system_variables = 'sql_mode,time_zone'"],
  [1, "SET session_track_system_variables = 'sql_mode,time_zone'"],
  [0, "SET sql_mode = '', time_zone = '+05:00', character_set_results = NULL"],
  [1, "SET sql_mode = '', time_zone = '+05:00', character_set_results = NULL"],
  [0, 'SET session_track_schema = OFF'],
  [1, 'SET session_track_schema = OFF'],
  [0, 'USE fid'],
  [1, 'USE fid'],
];

// Pairs that share a pooled connection in transaction mode (session tracking is the proxy's
// own there) and pairs whose flags change what the server does, which must never meet.
const PAIRS: Array<[string, string]> = [
  ['session_track', 'base'],
  ['session_track_deprecate_eof', 'deprecate_eof'],
  ['found_rows', 'ignore_space'],
  ['interactive', 'session_track'],
  ['extended_type_info', 'multi_statements'],
  ['cache_metadata', 'mysql_client'],
];

test('two clients with different capability sets taking turns: each gets what it gets directly', async () => {
  const differences: string[] = [];
  for (const [a, b] of PAIRS) {
    const sets: [CapabilitySet, CapabilitySet] = [SETS[a]!, SETS[b]!];
    for (const [mode, port] of t.targets().slice(1)) {
      const direct = await takeTurns(t.db.port, [offered(sets[0], mode), offered(sets[1], mode)], TURNS);
      const got = await takeTurns(port, sets, TURNS);
      for (const who of [0, 1]) {
        const d = firstDifference(got[who]!, direct[who]!);
        if (d) differences.push(`${a} with ${b}, the ${who === 0 ? a : b} client, via ${mode}: ${d}`);
      }
    }
  }
  assert.deepEqual(differences, []);
});

/** A HandshakeResponse320 (protocol 4.0): two bytes of flags, three of max packet size, the user, the answer. */
function handshake320(capabilities: number): (g: import('../../protocol/index.js').Greeting) => Buffer {
  return (g) => {
    const head = Buffer.alloc(5);
    head.writeUInt16LE(capabilities, 0);
    head.writeUIntLE((1 << 24) - 1, 2, 3);
    const answer = scrambleNativePassword('app-secret', g.scramble.subarray(0, 20));
    // The server reads a 4.0 answer up to its first NUL: one that starts with NUL (1 in 256,
    // each target's scramble its own) is no answer at all, 1045 "using password: NO".
    answer[0] ||= 1;
    return framePacket(Buffer.concat([head, Buffer.from('app\0'), answer]), 1);
  };
}

test('a client below protocol 4.1 is refused as the server refuses it, byte for byte (1251 for an old-password answer, else 1043, no SQLSTATE)', async () => {
  for (const capabilities of [CLIENT_LONG_PASSWORD | CLIENT_TRANSACTIONS, CLIENT_LONG_PASSWORD | CLIENT_TRANSACTIONS | CLIENT_SECURE_CONNECTION]) {
    const seen = new Map<string, string>();
    for (const [mode, port] of t.targets()) {
      seen.set(mode, (await answerGreeting(port, handshake320(capabilities))).toString('hex'));
    }
    const direct = seen.get('direct')!;
    assert.equal(direct.slice(8, 10), 'ff', `the server refuses: ${direct}`);
    for (const [mode, got] of seen) assert.equal(got, direct, `${mode}, flags 0x${capabilities.toString(16)}`);
  }
});
