// Session state in transaction pooling: what one client leaves on a compute connection
// never reaches the next client of the same user; the settings a client changes are its
// own on whichever connection it borrows (replayed, not pinned); the drivers' own
// connect-time setup pins nothing. Expectations come from the compute itself: a direct
// connection to it, with the same statements, is the reference.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';
import * as mariadb from 'mariadb';
import { startStack, type ProjectCredentials, type Stack } from '../helpers/stack.js';
import { mariadbCli } from '../helpers/clients.js';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeTempDir } from '../helpers/temp-dir.js';

const run = promisify(execFile);

let stack: Stack;
let shop: ProjectCredentials;
let direct: { host: string; port: number };

before(async () => {
  // Two connections for everyone: clients take turns on the same ones.
  stack = await startStack({ verify: { ttlMs: 5_000, poolMode: 'transaction', poolMax: 2, poolAcquireTimeoutMs: 5_000 } });
  shop = await stack.createProject('shop');
  const setup = await connect({ database: undefined });
  await setup.query('CREATE DATABASE IF NOT EXISTS app');
  await setup.query('CREATE DATABASE IF NOT EXISTS other');
  await setup.query('CREATE TABLE IF NOT EXISTS app.t (id INT)');
  await setup.end();
  const c = await stack.compute(shop.computeId);
  direct = { host: c.host, port: c.port };
});
after(async () => {
  await stack?.close();
});

function connect(extra: Partial<mysql.ConnectionOptions> = {}) {
  return mysql.createConnection({ host: '127.0.0.1', port: stack.proxy.port, user: `shop.${shop.user}`, password: shop.password, database: 'app', ...extra });
}

/** The same user straight to the compute: the reference. */
function connectDirect(extra: Partial<mysql.ConnectionOptions> = {}) {
  return mysql.createConnection({ ...direct, user: shop.user, password: shop.password, database: 'app', ...extra });
}

/** What a session shows of its state: every replayed setting, the database, and a few that must never travel. */
const STATE_SQL =
  'SELECT @@character_set_client AS cs_client, @@character_set_connection AS cs_conn, @@character_set_results AS cs_results, ' +
  '@@collation_connection AS coll, @@character_set_server AS cs_server, @@collation_server AS coll_server, @@time_zone AS tz, @@sql_mode AS mode, @@tx_isolation AS iso, @@tx_read_only AS ro, ' +
  'DATABASE() AS db, @@unique_checks AS uc, @@max_statement_time AS mst, @@autocommit AS ac';

async function state(conn: mysql.Connection): Promise<Record<string, unknown>> {
  const [rows] = await conn.query(STATE_SQL);
  return { ...(rows as any[])[0] };
}

async function pins(): Promise<number> {
  const m = await stack.proxy.metrics.sessionPins.get();
  return m.values.reduce((n, v) => n + v.value, 0);
}

const PYMYSQL_LEAK = `
import sys, pymysql
port, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
def conn(): return pymysql.connect(host='127.0.0.1', port=port, user=user, password=password, database='app')
a = conn()
with a.cursor() as cur:
    cur.execute("BEGIN NOT ATOMIC SET time_zone='+05:00'; END")
    cur.execute("IF 1 THEN SET unique_checks=0; END IF")
    cur.execute("SELECT @@time_zone, @@unique_checks")
    print('a', *cur.fetchone())
for i in range(3):
    b = conn()
    with b.cursor() as cur:
        cur.execute("SELECT @@time_zone, @@unique_checks")
        print('b', *cur.fetchone())
    b.close()
with a.cursor() as cur:
    cur.execute("SELECT @@time_zone, @@unique_checks")
    print('a', *cur.fetchone())
a.close()
`;

test('the leak of issue 13: state set inside BEGIN NOT ATOMIC and IF never reaches the next client (PyMySQL)', async () => {
  const ref = await connectDirect();
  const defaults = await state(ref);
  await ref.end();
  const { stdout } = await run('/usr/bin/python3', ['-c', PYMYSQL_LEAK, String(stack.proxy.port), `shop.${shop.user}`, shop.password]);
  const lines = stdout.trim().split('\n');
  assert.deepEqual(lines, ['a +05:00 0', ...Array(3).fill(`b ${defaults.tz} 1`), 'a +05:00 0']);
});

test('the same through mysql2, which does not track either, and through a client that does (mariadb)', async () => {
  for (const open of [() => connect(), () => connect({ flags: ['+SESSION_TRACK'] })]) {
    const a = await open();
    await a.query("BEGIN NOT ATOMIC SET time_zone='+05:00'; END");
    await a.query('IF 1 THEN SET unique_checks=0; END IF');
    const b = await open();
    const seen = await state(b);
    assert.notEqual(seen.tz, '+05:00');
    assert.equal(Number(seen.uc), 1);
    const own = await state(a);
    assert.equal(own.tz, '+05:00');
    assert.equal(Number(own.uc), 0);
    await Promise.all([a.end(), b.end()]);
  }
});

test('every replayed setting: A keeps its own, B sees the server defaults, nothing pins', async () => {
  const first = await connectDirect();
  const defaults = await state(first);
  await first.end();
  const changes = [
    'SET NAMES latin1',
    'SET NAMES utf8mb4 COLLATE utf8mb4_bin',
    'SET CHARACTER SET cp1250',
    'SET character_set_client = ascii',
    'SET character_set_results = NULL',
    'SET character_set_connection = utf8mb3',
    'SET collation_connection = utf8mb4_unicode_ci',
    'SET character_set_server = utf8mb4',
    'SET collation_server = utf8mb4_unicode_ci',
    'SET NAMES latin1, character_set_server = utf8mb3',
    "SET time_zone = '-03:00'",
    "SET sql_mode = 'ANSI_QUOTES,NO_BACKSLASH_ESCAPES'",
    'SET SESSION TRANSACTION ISOLATION LEVEL SERIALIZABLE',
    'SET SESSION TRANSACTION READ ONLY',
    'USE other',
  ];
  const before = await pins();
  for (const sql of changes) {
    const ref = await connectDirect();
    const a = await connect();
    const b = await connect();
    await a.query(sql);
    await ref.query(sql);
    const wanted = await state(ref);
    // Several rounds: each borrow may land on the other's connection.
    for (let round = 0; round < 3; round++) {
      assert.deepEqual(await state(a), wanted, `A after ${sql}`);
      assert.deepEqual(await state(b), defaults, `B after A's ${sql}`);
    }
    await Promise.all([a.end(), b.end(), ref.end()]);
  }
  assert.equal((await pins()) - before, 0, 'replayed, not pinned');
});

test("character_set_server and collation_server, alone and with SET NAMES: each of two clients sharing connections keeps its own", async () => {
  const pairs: Array<[string[], string[]]> = [
    [['SET character_set_server = utf8mb4'], ['SET collation_server = utf8mb4_bin']],
    [['SET collation_server = latin1_bin'], ['SET character_set_server = latin1']],
    [['SET NAMES latin1', 'SET character_set_server = utf8mb4'], ['SET NAMES utf8mb4 COLLATE utf8mb4_bin', 'SET collation_server = utf8mb4_unicode_ci']],
    [['SET collation_server = utf8mb4_bin', 'SET character_set_server = utf8mb4'], ['SET collation_server = utf8mb4_unicode_ci', 'SET NAMES utf8mb4']],
  ];
  const before = await pins();
  for (const [forA, forB] of pairs) {
    const [refA, refB, a, b] = await Promise.all([connectDirect(), connectDirect(), connect(), connect()]);
    for (const sql of forA) await Promise.all([a.query(sql), refA.query(sql)]);
    for (const sql of forB) await Promise.all([b.query(sql), refB.query(sql)]);
    const [wantA, wantB] = await Promise.all([state(refA), state(refB)]);
    assert.notDeepEqual([wantA.cs_server, wantA.coll_server], [wantB.cs_server, wantB.coll_server]);
    // Each round, each borrow may land on the connection the other just used.
    for (let round = 0; round < 4; round++) {
      assert.deepEqual(await state(a), wantA, `A after ${forA.join('; ')}`);
      assert.deepEqual(await state(b), wantB, `B after ${forB.join('; ')}`);
    }
    await Promise.all([a.end(), b.end(), refA.end(), refB.end()]);
  }
  assert.equal((await pins()) - before, 0, 'replayed, not pinned');
});

test('COM_RESET_CONNECTION brings a client back to its login settings, holding a connection or not', async () => {
  const ref = await connectDirect();
  const defaults = await state(ref);
  await ref.end();
  const before = await pins();
  const a = await connect();
  await a.query("SET time_zone = '+04:00'");
  await a.reset(); // holding nothing: the proxy answers it
  assert.deepEqual(await state(a), defaults);
  await a.query("SET time_zone = '+04:00'");
  await a.query('BEGIN'); // holding a connection: the compute resets it, the pool sets it up again
  await a.reset();
  assert.deepEqual(await state(a), defaults);
  for (let i = 0; i < 3; i++) {
    const b = await connect();
    await b.query('IF 1 THEN SET time_zone = \'+08:00\'; END IF');
    assert.equal((await state(b)).tz, '+08:00', 'the trackers are on again');
    await b.end();
  }
  assert.equal((await pins()) - before, 0);
  await a.end();
});

test('flagged is not pinned: autocommit=1, a SET to the current value, SET STATEMENT ... FOR', async () => {
  const before = await pins();
  const a = await connect();
  const tz = (await state(a)).tz;
  await a.query('SET autocommit = 1');
  await a.query(`SET time_zone = '${tz}'`);
  await a.query("SET STATEMENT time_zone = '+07:00' FOR SELECT 1");
  await a.query("SET STATEMENT max_statement_time = 5 FOR SELECT 1");
  const b = await connect();
  // The restore of max_statement_time is reported with a later flagged statement.
  await b.query("SET time_zone = '+01:00'");
  assert.equal(Number((await state(b)).mst), 0);
  assert.equal((await state(a)).tz, tz);
  assert.equal((await pins()) - before, 0);
  await Promise.all([a.end(), b.end()]);
});

test('what the trackers do not describe still pins: user variables, temporary tables, other variables', async () => {
  const cases = ['SET @x = 1', "BEGIN NOT ATOMIC SET @y = 2; SET time_zone = '+02:00'; END", 'CREATE TEMPORARY TABLE tmp (x INT)', 'SET unique_checks = 0', "DO GET_LOCK('l', 0)", 'SET TRANSACTION ISOLATION LEVEL SERIALIZABLE'];
  for (const sql of cases) {
    const before = await pins();
    const a = await connect();
    await a.query(sql);
    await a.query('SELECT 1');
    assert.equal((await pins()) - before, 1, sql);
    await a.end();
  }
});

test("the drivers' own connect-time setup pins nothing (mysql2, the mariadb connector)", async () => {
  const before = await pins();
  const clients: Array<{ query(sql: string): Promise<unknown>; end(): Promise<void> }> = [];
  for (let i = 0; i < 5; i++) {
    clients.push(await connect());
    clients.push(await connectMariadb());
  }
  for (const c of clients) await c.query('SELECT 1');
  assert.equal((await pins()) - before, 0);
  await Promise.all(clients.map((c) => c.end()));
});

function connectMariadb() {
  return mariadb.createConnection({ host: '127.0.0.1', port: stack.proxy.port, user: `shop.${shop.user}`, password: shop.password, database: 'app' });
}

async function setStatements(): Promise<number> {
  const ref = await connectDirect();
  const [rows] = await ref.query("SHOW GLOBAL STATUS LIKE 'Com_set_option'");
  await ref.end();
  return Number((rows as any[])[0].Value);
}

test("the mariadb connector's SET NAMES at connect: the login OK reports nothing, as the compute's does not; replayed, not pinned, the collation as directly", async () => {
  // This compute's login OK carries no session state, so the proxy's does not either: the
  // connector sets its charset itself, as it does directly (utf8mb4_general_ci, where the
  // handshake asked for utf8mb4_unicode_ci).
  const probe = "SELECT @@collation_connection AS co, @@character_set_client AS cs, 'ß' = 'ss' AS same";
  const ref = await mariadb.createConnection({ ...direct, user: shop.user, password: shop.password, database: 'app' });
  const wanted = ((await ref.query(probe)) as any[])[0];
  await ref.end();
  assert.equal(wanted.co, 'utf8mb4_general_ci');
  const pinsBefore = await pins();
  for (let round = 0; round < 2; round++) {
    const before = await setStatements();
    // More clients than the pool's two connections: each connection serves several.
    const clients = await Promise.all(Array.from({ length: 5 }, () => connectMariadb()));
    // Each client's SET NAMES reached the compute (the reference connection's SHOW is no SET).
    assert.ok((await setStatements()) - before >= clients.length, 'every client sent SET NAMES');
    for (const c of clients) assert.deepEqual({ ...((await c.query(probe)) as any[])[0] }, wanted);
    await Promise.all(clients.map((c) => c.end()));
  }
  assert.equal((await pins()) - pinsBefore, 0, 'no pins');
});

const JAVA_SESSIONS = `
import java.sql.*;
import java.util.*;

public class Sessions {
  public static void main(String[] a) throws Exception {
    String url = "jdbc:mariadb://127.0.0.1:" + a[0] + "/app";
    List<Connection> open = new ArrayList<>();
    for (int i = 0; i < 3; i++) open.add(DriverManager.getConnection(url, a[1], a[2]));
    for (Connection c : open) {
      try (ResultSet rs = c.createStatement().executeQuery("SELECT @@sql_mode, @@time_zone, @@autocommit, @@character_set_client, DATABASE()")) {
        rs.next();
        System.out.println(rs.getString(1) + " " + rs.getString(2) + " " + rs.getString(3) + " " + rs.getString(4) + " " + rs.getString(5));
      }
    }
    for (Connection c : open) c.close();
  }
}
`;

test("Connector/J's connect-time settings are replayed, not pinned, and what it sees is what a direct connection sees", async () => {
  const jar = '/usr/share/java/mariadb-java-client.jar';
  const dir = await makeTempDir('wake-proxy-java-');
  try {
    await writeFile(join(dir.path, 'Sessions.java'), JAVA_SESSIONS);
    await run('javac', ['-cp', jar, '-d', dir.path, join(dir.path, 'Sessions.java')], { timeout: 120_000 });
    const java = (port: number, user: string) => run('java', ['-cp', `${jar}:${dir.path}`, 'Sessions', String(port), user, shop.password], { timeout: 60_000 });
    const before = await pins();
    const proxied = await java(stack.proxy.port, `shop.${shop.user}`);
    assert.equal((await pins()) - before, 0, 'no pins');
    const straight = await java(direct.port, shop.user);
    assert.equal(proxied.stdout, straight.stdout);
  } finally {
    await dir.remove();
  }
});

test('CLIENT_IGNORE_SPACE survives connection reuse and resets: mariadb -i again and again', async () => {
  const user = `shop.${shop.user}`;
  // The second pins (a user variable), so its connection is reset when it quits.
  for (const sql of ['SELECT COUNT (*) FROM app.t', 'SET @x = 1; SELECT COUNT (*) FROM app.t', 'SELECT COUNT (*) FROM app.t', 'SELECT COUNT (*) FROM app.t']) {
    const r = await mariadbCli(stack.proxy.port, user, shop.password, sql, ['-i']);
    assert.equal(r.code, 0, `${sql}: ${r.stderr}`);
    assert.equal(r.stdout, '0\n');
  }
});

test('init_connect runs for every new client where the server would run it, on a reused connection too', async () => {
  const admin = await connectDirect();
  await admin.query('CREATE TABLE IF NOT EXISTS app.logins (id INT)');
  await admin.query("CREATE USER IF NOT EXISTS 'plain'@'%' IDENTIFIED BY 'plain-pw'");
  await admin.query("GRANT SELECT, INSERT ON app.* TO 'plain'@'%'");
  await admin.query("SET GLOBAL init_connect = 'INSERT INTO app.logins VALUES (CONNECTION_ID()); SET time_zone = ''+06:00'''");
  const logins = async () => Number(((await admin.query('SELECT COUNT(*) AS n FROM app.logins'))[0] as any[])[0].n);
  try {
    const before = await logins();
    for (let i = 0; i < 3; i++) {
      const c = await connect({ user: 'shop.plain', password: 'plain-pw' });
      assert.equal((await state(c)).tz, '+06:00', 'what init_connect set');
      await c.end();
    }
    assert.equal((await logins()) - before, 3, 'one run per login, as the server does');
    // An account with SUPER (the project's owner) skips it, as with the server.
    const owner = await connect();
    assert.equal((await logins()) - before, 3);
    await owner.end();
  } finally {
    await admin.query("SET GLOBAL init_connect = ''");
    await admin.end();
  }
});

/** The statements SHOW PROFILES lists after SET profiling=1 and a few of the client's own. */
async function profiled(conn: mysql.Connection): Promise<string[]> {
  await conn.query('SET profiling = 1');
  await conn.query('SELECT 1');
  await conn.query("SELECT 'two'");
  const [rows] = await conn.query('SHOW PROFILES');
  return (rows as any[]).map((r) => String(r.Query));
}

test("the pool's own statements never show in a client's session (SHOW PROFILES), as on a direct connection", async () => {
  for (const tracks of [false, true]) {
    const flags = tracks ? { flags: ['+SESSION_TRACK'] } : {};
    // Another client first, so the connection is a reused one with settings to replay.
    const other = await connect(flags);
    await other.query("SET time_zone = '+03:00'");
    await other.end();
    const ref = await connectDirect(flags);
    const want = await profiled(ref);
    await ref.end();
    const a = await connect(flags);
    await a.query("SET time_zone = '+02:00'");
    assert.deepEqual(await profiled(a), want);
    await a.end();
  }
});

/** A small seeded generator (mulberry32): a failing run is repeated with FUZZ_SEED. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Statements that leave state, flagged by the trackers or not, replayed or pinning. */
function fuzzStatement(r: () => number, i: number): string {
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)]!;
  const tz = pick(['+01:00', '-04:30', '+09:00', 'SYSTEM']);
  const setting = pick([
    `time_zone = '${tz}'`,
    `sql_mode = '${pick(['', 'ANSI_QUOTES', 'STRICT_ALL_TABLES', 'NO_ZERO_DATE,IGNORE_SPACE'])}'`,
    `NAMES ${pick(['latin1', 'utf8mb4', 'utf8mb3', 'utf8mb4 COLLATE utf8mb4_bin'])}`,
    `SESSION TRANSACTION ISOLATION LEVEL ${pick(['READ COMMITTED', 'SERIALIZABLE', 'REPEATABLE READ'])}`,
    `character_set_results = ${pick(['NULL', 'latin1', 'utf8mb4'])}`,
  ]);
  return pick([
    `SET ${setting}`,
    `SET ${setting}`,
    `BEGIN NOT ATOMIC SET ${setting}; END`,
    `IF 1 THEN SET ${setting}; END IF`,
    `SET STATEMENT time_zone = '${tz}' FOR SELECT 1`,
    `USE ${pick(['app', 'other'])}`,
    'SET autocommit = 1',
    'SELECT 1',
    // These pin (the client keeps its connection until it quits).
    `SET @v${i} = ${i}`,
    'IF 1 THEN SET unique_checks = 0; END IF',
    'SET max_statement_time = 7',
  ]);
}

test('state fuzz: random state-leaving statements from many clients of one user; each sees only its own', async () => {
  const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000);
  console.log(`# state fuzz seed ${seed} (FUZZ_SEED=${seed} repeats it)`);
  const r = random(seed);
  const deadline = Date.now() + 20_000;
  const clients = 5;
  // Each client through the proxy, and its twin straight to the compute: the twin's state is what the client must see.
  const pairs: Array<{ proxied: mysql.Connection; twin: mysql.Connection; pinned: boolean }> = [];
  const open = async () => ({ proxied: await connect(), twin: await connectDirect(), pinned: false });
  for (let i = 0; i < clients; i++) pairs.push(await open());
  let steps = 0;
  for (; steps < 150 && Date.now() < deadline; steps++) {
    const who = Math.floor(r() * clients);
    const sql = fuzzStatement(r, steps);
    const p = pairs[who]!;
    await p.proxied.query(sql);
    await p.twin.query(sql);
    const pinning = /@v|unique_checks|max_statement_time = 7/.test(sql);
    for (const [i, other] of pairs.entries()) {
      assert.deepEqual(await state(other.proxied), await state(other.twin), `seed ${seed}, step ${steps} (client ${who}: ${sql}): client ${i}`);
    }
    // A pinned client holds one of the two connections: it quits, and a new client takes its place.
    if (pinning) {
      await Promise.all([p.proxied.end(), p.twin.end()]);
      pairs[who] = await open();
    }
  }
  await Promise.all(pairs.flatMap((p) => [p.proxied.end(), p.twin.end()]));
  assert.ok(steps >= 20, `only ${steps} steps in the time given`);
});
