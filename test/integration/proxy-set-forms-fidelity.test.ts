// The forms of SET through transaction pooling, compared with the server itself. Client
// A runs a form; client B, sharing A's only compute connection (one per compute), then
// changes every setting the proxy replays and reads them back; then A reads back every
// setting and what it does (a time zone's offset, a sql_mode's parsing, a collation's
// comparison, an error's language). Each answer must equal a direct session's that ran
// the same steps, and the form must pin (keep the connection) exactly when expected:
// a form the proxy cannot replay must pin or be refused, never be replayed wrongly.
// Run with mysql2 and with the npm mariadb connector; A's steps also run through
// session pooling.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import * as mariadb from 'mariadb';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mariadbCli } from '../helpers/clients.js';
import { startStandaloneMariadb, type StandaloneMariadb } from '../helpers/standalone-mariadb.js';
import { READER_SQL, startModeProxy } from '../helpers/mode-proxies.js';
import { plain } from '../helpers/pooled-fidelity.js';
import { testLogger } from '../helpers/logger.js';
import { pinsByReason, pooledInUse, waitFor } from './pool-support.js';
import { createBackendPools, defaultGrowDelayMs } from '../../pool/backend-pool.js';
import type { ProxyServer } from '../../proxy/server.js';

const SETUP = `${READER_SQL}
CREATE DATABASE fid;
CREATE TABLE fid.t (i INT);
CREATE ROLE reader_role;
GRANT SELECT ON fid.* TO reader_role;
GRANT reader_role TO 'app'@'%';`;
const PROCEDURE = "CREATE PROCEDURE fid.set_zone(IN z VARCHAR(10)) SET time_zone = z";

/** Every setting the proxy replays or pins on, and what it does; parses alike under ANSI_QUOTES, NO_BACKSLASH_ESCAPES, PIPES_AS_CONCAT. */
const READBACK =
  "SELECT @@session.time_zone AS tz, TIMESTAMPDIFF(MINUTE, UTC_TIMESTAMP(), NOW()) AS tz_minutes, UNIX_TIMESTAMP('2020-06-01 12:00:00') AS epoch, " +
  "@@session.sql_mode AS mode, 'a' || 'b' AS pipes, LENGTH('a\\b') AS backslash, " +
  '@@session.character_set_client AS cs_client, @@session.character_set_connection AS cs_conn, @@session.character_set_results AS cs_results, ' +
  "@@session.collation_connection AS coll, 'a' = 'A' AS ci, COLLATION('x') AS literal_coll, " +
  '@@session.character_set_server AS cs_server, @@session.collation_server AS coll_server, ' +
  '@@session.tx_isolation AS iso, @@session.tx_read_only AS ro, @@session.autocommit AS ac, ' +
  '@@session.max_statement_time AS mst, @@session.lc_messages AS lc, @@session.unique_checks AS uc, CURRENT_ROLE() AS role';
/** An error's text (lc_messages). */
const ERROR_TEXT = 'SELECT * FROM fid.no_such_table';
/** Read last: reading a user variable pins. */
const USER_VARIABLES = 'SELECT @b AS b, @tz AS tz, @x AS x, @m AS m';

/** B changes everything the proxy replays (none of these pins). */
const CHANGE_EVERYTHING = [
  'SET NAMES cp1251 COLLATE cp1251_bin',
  'SET character_set_results = koi8r',
  "SET time_zone = '-07:00', sql_mode = 'PIPES_AS_CONCAT', collation_server = 'cp1250_bin'",
  'SET SESSION TRANSACTION ISOLATION LEVEL SERIALIZABLE',
  'SET SESSION TRANSACTION READ ONLY',
];

type Step = string | { execute: string; params: Array<string | number> };

interface SetForm {
  name: string;
  /** A's steps (each answer compared with direct's). */
  steps: Step[];
  /** The pin reasons expected after A's steps ([]: none). */
  pins: string[];
  /** A holds its connection after its steps without a pin (autocommit off). */
  holds?: boolean;
  /** Connect with multi-statements on. */
  multi?: boolean;
  /** Run as the admin right after A's steps (undoing a SET GLOBAL before anyone else logs in). */
  cleanup?: string;
}

const FORMS: SetForm[] = [
  { name: 'NULL value', steps: ['SET character_set_results = NULL'], pins: [] },
  { name: 'DEFAULT sql_mode', steps: ["SET sql_mode = 'ANSI'", 'SET sql_mode = DEFAULT'], pins: [] },
  { name: 'SESSION time_zone DEFAULT', steps: ["SET time_zone = '+02:00'", 'SET SESSION time_zone = DEFAULT'], pins: [] },
  { name: 'expression', steps: ["SET time_zone = CONCAT('+0', '5:30')"], pins: [] },
  { name: 'user variable value', steps: ["SET @tz = '+03:00'", 'SET time_zone = @tz'], pins: ['user_variable'] },
  { name: 'subquery', steps: ["SET sql_mode = (SELECT 'ANSI_QUOTES,NO_BACKSLASH_ESCAPES')"], pins: [] },
  { name: 'session and user variables', steps: ["SET time_zone = '+02:00', @b = 2"], pins: ['user_variable'] },
  { name: 'user and session variables', steps: ["SET @b = 2, time_zone = '+02:00'"], pins: ['user_variable'] },
  { name: 'two replayed at once', steps: ["SET time_zone = '+04:00', sql_mode = 'ANSI_QUOTES', character_set_results = latin1"], pins: [] },
  { name: 'replayed and not replayed', steps: ["SET time_zone = '+04:00', max_statement_time = 7"], pins: ['set_statement'] },
  {
    name: 'GLOBAL mixed with SESSION',
    steps: ["SET GLOBAL max_statement_time = 11, SESSION time_zone = '+04:00'"],
    pins: [],
    cleanup: 'SET GLOBAL max_statement_time = 0',
  },
  {
    name: '@@global mixed with a session assignment',
    steps: ["SET @@global.max_statement_time = 12, time_zone = '+04:00'"],
    pins: [],
    cleanup: 'SET GLOBAL max_statement_time = 0',
  },
  { name: '@@local', steps: ["SET @@local.time_zone = '+01:00'"], pins: [] },
  { name: 'LOCAL', steps: ["SET LOCAL time_zone = '+01:00'"], pins: [] },
  { name: 'SESSION', steps: ["SET SESSION time_zone = '+01:00'"], pins: [] },
  // MariaDB 10.11 reports no assignment to a bare @@name: pinned by its text.
  { name: '@@', steps: ["SET @@time_zone = '+01:00'"], pins: ['set_statement'] },
  { name: '@@ after another', steps: ["SET time_zone = '+01:00', @@sql_mode = 'ANSI'"], pins: ['set_statement'] },
  { name: '@@ inside BEGIN NOT ATOMIC', steps: ["BEGIN NOT ATOMIC SET @@time_zone = '+01:00'; END"], pins: ['set_statement'] },
  { name: '@@session :=', steps: ["SET @@session.time_zone := '+01:00'"], pins: [] },
  { name: 'backquoted name', steps: ["SET `time_zone` = '+01:00'"], pins: [] },
  { name: 'backquoted @@session name', steps: ["SET @@session.`sql_mode` = 'ANSI'"], pins: [] },
  { name: 'backquoted name not replayed', steps: ['SET `max_statement_time` = 5'], pins: ['set_statement'] },
  { name: 'comment before the name', steps: ["SET /* c */ time_zone='+01:00'"], pins: [] },
  { name: 'comment before the value', steps: ["SET time_zone=/**/'+01:00'"], pins: [] },
  { name: 'comment before a name not replayed', steps: ['SET /* c */ max_statement_time = 5'], pins: ['set_statement'] },
  { name: 'comment inside SESSION', steps: ['SET SESSION /* c */ max_statement_time = 5'], pins: ['set_statement'] },
  { name: 'newlines and tabs', steps: ["SET\n\ttime_zone\n=\n'+01:00'"], pins: [] },
  { name: 'mixed case', steps: ["set Time_Zone = '+01:00'"], pins: [] },
  { name: 'NAMES COLLATE', steps: ['SET NAMES latin1 COLLATE latin1_bin'], pins: [] },
  { name: 'NAMES quoted COLLATE', steps: ["SET NAMES 'latin1' COLLATE 'latin1_bin'"], pins: [] },
  { name: 'NAMES COLLATE with a comment', steps: ['SET NAMES latin1 /* c */ COLLATE latin1_bin'], pins: [] },
  { name: 'NAMES COLLATE after another', steps: ["SET time_zone = '+01:00', NAMES latin1 COLLATE latin1_bin"], pins: [] },
  { name: 'NAMES COLLATE DEFAULT', steps: ['SET NAMES latin1 COLLATE latin1_bin', 'SET NAMES latin1 COLLATE DEFAULT'], pins: [] },
  { name: 'NAMES DEFAULT', steps: ['SET NAMES latin1', 'SET NAMES DEFAULT'], pins: [] },
  { name: 'CHARACTER SET', steps: ['SET CHARACTER SET cp1250'], pins: [] },
  { name: 'CHARSET', steps: ['SET CHARSET cp1250'], pins: [] },
  { name: 'PASSWORD', steps: ["SET PASSWORD = PASSWORD('app-secret')"], pins: ['set_statement'] },
  { name: 'ROLE', steps: ['SET ROLE reader_role'], pins: ['set_statement'] },
  { name: 'DEFAULT ROLE', steps: ['SET DEFAULT ROLE NONE'], pins: [] },
  { name: 'STATEMENT ... FOR', steps: ["SET STATEMENT time_zone = '+05:00' FOR SELECT @@time_zone AS tz"], pins: [] },
  { name: 'STATEMENT with a comment', steps: ["SET /* c */ STATEMENT time_zone = '+05:00' FOR SELECT @@time_zone AS tz"], pins: [] },
  { name: 'STATEMENT not replayed', steps: ['SET STATEMENT max_statement_time = 3 FOR SELECT @@max_statement_time AS mst'], pins: [] },
  { name: 'TRANSACTION (the next one)', steps: ['SET TRANSACTION ISOLATION LEVEL SERIALIZABLE'], pins: ['set_statement'] },
  { name: 'SESSION TRANSACTION', steps: ['SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED, READ ONLY'], pins: [] },
  { name: 'autocommit = 0 then statements', steps: ['SET autocommit = 0', 'INSERT INTO fid.t VALUES (1)', 'SELECT COUNT(*) AS n FROM fid.t', 'ROLLBACK'], pins: [], holds: true },
  { name: 'sql_mode from itself', steps: ["SET sql_mode = CONCAT(@@sql_mode, ',ANSI_QUOTES')", 'SELECT "i" FROM fid.t'], pins: [] },
  { name: 'SQL_MODE ANSI', steps: ["SET SQL_MODE='ANSI'", "SELECT 'a' || 'b' AS ab"], pins: [] },
  {
    name: 'NO_BACKSLASH_ESCAPES, then a string ending in a backslash',
    steps: ["SET @@session.sql_mode = 'NO_BACKSLASH_ESCAPES'", "SELECT 'a\\', @x := 5 AS x -- '"],
    pins: ['user_variable'],
  },
  {
    name: 'ANSI_QUOTES, then an identifier ending in a backslash',
    steps: ["SET sql_mode = 'ANSI_QUOTES'", 'SELECT 1 AS "a\\", @x := 5 AS x -- "'],
    pins: ['user_variable'],
  },
  { name: 'max_statement_time', steps: ['SET max_statement_time = 5'], pins: ['set_statement'] },
  { name: 'lc_messages', steps: ["SET lc_messages = 'de_DE'", ERROR_TEXT], pins: ['set_statement'] },
  { name: 'tx_read_only', steps: ['SET tx_read_only = 1', 'INSERT INTO fid.t VALUES (2)'], pins: [] },
  // The proxy's trackers changed: reported, and pinned after it ran.
  { name: 'session_track_system_variables', steps: ["SET session_track_system_variables = 'time_zone'"], pins: ['session_state'] },
  { name: 'multi-statement', steps: ["SET time_zone = '+01:00'; SET sql_mode = 'ANSI'"], pins: [], multi: true },
  // The text rule reads the first SET; the compute's report of the second pins once it ran.
  { name: 'multi-statement with a pin', steps: ["SET time_zone = '+01:00'; SET max_statement_time = 4"], pins: ['session_state'], multi: true },
  { name: 'SQL PREPARE of a SET', steps: ["PREPARE s FROM 'SET time_zone = ?'", "SET @tz = '+06:00'", 'EXECUTE s USING @tz'], pins: ['prepared_statement'] },
  // A prepared statement's text is judged as without the trackers: any SET pins.
  { name: 'binary prepare of a SET', steps: [{ execute: 'SET time_zone = ?', params: ['+06:00'] }], pins: ['set_statement'] },
  { name: 'binary prepare of a SET not replayed', steps: [{ execute: 'SET max_statement_time = ?', params: [6] }], pins: ['set_statement'] },
  { name: 'SET in a procedure', steps: ["CALL fid.set_zone('+07:00')"], pins: ['stored_procedure'] },
];

interface Client {
  run(step: Step): Promise<unknown>;
  close(): Promise<void>;
}

type Connect = (port: number, multi: boolean) => Promise<Client>;

/** Rows as plain data; an OK as its counts (its status and session-state data are the wire sweep's to compare). */
function answer(result: unknown): unknown {
  // A multi-statement's answers: one per statement.
  if (Array.isArray(result) && result.length > 0 && result.every((r) => !Array.isArray(r) && typeof r === 'object' && r !== null && 'affectedRows' in r)) {
    return result.map(answer);
  }
  if (Array.isArray(result)) return plain(result);
  const { affectedRows, warningStatus } = result as { affectedRows: number; warningStatus: number };
  return { affectedRows, warningStatus };
}

function failure(err: unknown): unknown {
  const e = err as { errno?: number; sqlState?: string; sqlMessage?: string; text?: string; message: string };
  return { errno: e.errno, sqlState: e.sqlState, message: e.sqlMessage ?? e.text ?? e.message };
}

const DRIVERS: Record<string, Connect> = {
  async mysql2(port, multi) {
    const c = await mysql.createConnection({ host: '127.0.0.1', port, user: 'app', password: 'app-secret', database: 'fid', multipleStatements: multi });
    return {
      async run(step) {
        try {
          const [rows] = typeof step === 'string' ? await c.query(step) : await c.execute(step.execute, step.params);
          return answer(rows);
        } catch (err) {
          return failure(err);
        }
      },
      close: () => c.end(),
    };
  },
  async mariadb(port, multi) {
    const c = await mariadb.createConnection({ host: '127.0.0.1', port, user: 'app', password: 'app-secret', database: 'fid', multipleStatements: multi });
    return {
      async run(step) {
        try {
          return answer(typeof step === 'string' ? await c.query(step) : await c.execute(step.execute, step.params));
        } catch (err) {
          return failure(err);
        }
      },
      close: () => c.end(),
    };
  },
};

let db: StandaloneMariadb;
let transaction: { proxy: ProxyServer; stop(): Promise<void> };
let session: { proxy: ProxyServer; stop(): Promise<void> };

before(async () => {
  db = await startStandaloneMariadb('app', 'app-secret', SETUP);
  const admin = await mysql.createConnection({ host: db.host, port: db.port, user: db.user, password: db.password });
  await admin.query(PROCEDURE);
  await admin.end();
  const logger = testLogger();
  // One compute connection: A and B take turns on it.
  const pools = createBackendPools({ maxPerCompute: 1, idleTimeoutMs: 30_000, acquireTimeoutMs: 5_000, growDelayMs: defaultGrowDelayMs('transaction'), logger });
  transaction = await startModeProxy('transaction', db, { pooling: { mode: 'transaction', pools } });
  session = await startModeProxy('session', db);
});
after(async () => {
  await transaction?.stop();
  await session?.stop();
  await db?.stop();
});

async function runAll(c: Client, steps: Step[]): Promise<unknown[]> {
  const seen: unknown[] = [];
  for (const s of steps) seen.push(await c.run(s));
  return seen;
}

/** The pins counted since `before`, by reason. */
function pinsSince(before: Record<string, number>, now: Record<string, number>): string[] {
  return Object.keys(now).filter((r) => now[r]! > (before[r] ?? 0)).sort();
}

/** What one session saw: its own steps, then (unless it holds the connection) B's turn, then its readback. */
async function sweep(
  form: SetForm,
  connect: Connect,
  port: number,
  proxy: ProxyServer | null,
  withB: boolean,
): Promise<{ seen: Record<string, unknown>; pins: string[]; shared: boolean }> {
  const multi = form.multi ?? false;
  // A reset either proxy still runs for an earlier sweep's clients (a pinned session's, at its end) would copy
  // this sweep's SET GLOBAL into that connection (a reset reads the globals again), which a later sweep is lent.
  await waitFor('both pools at rest', async () => (await pooledInUse(transaction.proxy)) === 0 && (await pooledInUse(session.proxy)) === 0);
  const a = await connect(port, multi);
  let aOpen = true;
  const seen: Record<string, unknown> = {};
  const pinsBefore = proxy ? await pinsByReason(proxy) : {};
  try {
    seen.a = await runAll(a, form.steps);
    if (form.cleanup) {
      const admin = await mysql.createConnection({ host: db.host, port: db.port, user: db.user, password: db.password });
      await admin.query(form.cleanup);
      await admin.end();
    }
    const pins = proxy ? pinsSince(pinsBefore, await pinsByReason(proxy)) : [];
    // A that holds the only connection (pinned, in a transaction) leaves B nothing to borrow.
    const shares = withB && (proxy === null || (await pooledInUse(proxy)) === 0);
    let b: Client | null = null;
    if (shares) {
      b = await connect(port, false);
      seen.b = await runAll(b, [...CHANGE_EVERYTHING, READBACK]);
    }
    seen.aAfter = await runAll(a, [READBACK, ERROR_TEXT, USER_VARIABLES]);
    // B reads last, once A (pinned by reading its variables) is gone: a user variable A left on the connection would show here.
    await a.close();
    aOpen = false;
    if (b) {
      seen.bAfter = await b.run(USER_VARIABLES);
      await b.close();
    }
    return { seen, pins, shared: shares };
  } finally {
    if (aOpen) await a.close();
  }
}

for (const [driver, connect] of Object.entries(DRIVERS).filter(([d]) => !process.env.SET_FORMS_DRIVER || d === process.env.SET_FORMS_DRIVER)) {
  describe(`the forms of SET through transaction pooling (${driver})`, () => {
    for (const form of FORMS.filter((f) => !process.env.SET_FORMS_ONLY || f.name === process.env.SET_FORMS_ONLY)) {
      test(form.name, async () => {
        const pooled = await sweep(form, connect, transaction.proxy.port, transaction.proxy, true);
        const direct = await sweep(form, connect, db.port, null, pooled.shared);
        if (process.env.FIDELITY_DUMP) console.log(form.name, JSON.stringify(direct.seen), JSON.stringify(pooled));
        assert.deepEqual(pooled.seen, direct.seen, `${form.name}: transaction pooling differs from direct`);
        assert.deepEqual(pooled.pins, form.pins, `${form.name}: pins`);
        assert.equal(pooled.shared, form.pins.length === 0 && !form.holds, `${form.name}: B shares A's connection`);
        const inSession = await sweep(form, connect, session.proxy.port, null, pooled.shared);
        assert.deepEqual(inSession.seen, direct.seen, `${form.name}: session pooling differs from direct`);
      });
    }
  });
}

const execFileAsync = promisify(execFile);

/** PHP's mysqli: multi_query on a connection without multi-statements turns them on for the call (COM_SET_OPTION) and off after. */
const PHP_MULTI = `
$m = new mysqli('127.0.0.1', 'app', 'app-secret', 'fid', (int) $argv[1]);
$m->multi_query("SET time_zone = '+01:00'; SET sql_mode = 'ANSI'");
do { if ($r = $m->store_result()) $r->free(); } while ($m->more_results() && $m->next_result());
echo implode("|", $m->query("SELECT @@time_zone, @@sql_mode, 'a' || 'b'")->fetch_row()), "\\n";
$m->close();
`;

/** The CLI sends what it reads, comments too (--comments): the text as typed. */
const CLI_SCRIPT = [
  "SET /* c */ time_zone = '+01:00';",
  'SET NAMES latin1 /* c */ COLLATE latin1_bin;',
  "SET @@time_zone = '+02:00';",
  "SET @@session.sql_mode = 'NO_BACKSLASH_ESCAPES';",
  "SELECT @@time_zone, @@collation_connection, 'a' = 'A', @@sql_mode, LENGTH('a\\\\b');",
].join('\n');

describe('the forms of SET from bare clients', () => {
  test('PHP mysqli multi_query (COM_SET_OPTION around a multi-statement): pins, and reads back as directly', async () => {
    const run = async (port: number) => (await execFileAsync('php', ['-r', PHP_MULTI, String(port)])).stdout;
    const before = await pinsByReason(transaction.proxy);
    const direct = await run(db.port);
    assert.equal(await run(transaction.proxy.port), direct);
    assert.deepEqual(pinsSince(before, await pinsByReason(transaction.proxy)), ['command']);
    assert.equal(await run(session.proxy.port), direct);
  });

  test('the mariadb CLI with comments kept: reads back as directly', async () => {
    const run = async (port: number) => {
      const r = await mariadbCli(port, 'app', 'app-secret', CLI_SCRIPT, ['--comments', '-D', 'fid']);
      return { code: r.code, stdout: r.stdout, stderr: r.stderr };
    };
    const before = await pinsByReason(transaction.proxy);
    const direct = await run(db.port);
    assert.equal(direct.code, 0, direct.stderr);
    assert.deepEqual(await run(transaction.proxy.port), direct);
    assert.deepEqual(pinsSince(before, await pinsByReason(transaction.proxy)), ['set_statement']);
    assert.deepEqual(await run(session.proxy.port), direct);
  });
});
