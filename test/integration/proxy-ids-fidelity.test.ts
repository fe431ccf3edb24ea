// Connection ids and everything that names them, directly and through each mode's proxy
// (pipe with passthrough auth, pipe, session and transaction pooling), with mysql2, the
// npm `mariadb` connector and a raw wire client: every way to read one's own id, the
// processlist, every KILL form, COM_PROCESS_KILL, SHOW EXPLAIN FOR. The rule: a session
// through the proxy gets what it gets directly (the greeting's id, the same errors, the
// same KILL effects) or a clear refusal; never a compute connection's id that KILL would
// not take, and never a KILL that lands on another session.
//
// IDS_DUMP=1 prints every case's outcome per target.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import * as mariadb from 'mariadb';
import { startModeProxies, READER, type ModeProxies } from '../helpers/mode-proxies.js';
import { startProxyProcess, type ProxyProcess } from '../helpers/proxy-process.js';
import { startRedis, type RedisServer } from '../helpers/redis-server.js';
import { wireSession } from '../helpers/wire-login.js';
import { COM_PROCESS_KILL, PacketFramer, framePacket } from '../../protocol/index.js';
import { instanceOf } from '../../proxy/kill/session-ids.js';
import { COMPUTE_THREAD, COMPUTE_THREAD_EXPR } from '../helpers/compute-thread.js';

const SESSION_ID_BASE = 2 ** 30;
const POOLED = new Set(['session', 'transaction']);

const SETUP = `CREATE DATABASE ids;
CREATE TABLE ids.t (i INT PRIMARY KEY);
INSERT INTO ids.t VALUES (1), (2), (3);
CREATE USER 'plain'@'%' IDENTIFIED BY 'plain-secret';
GRANT SELECT, EXECUTE ON ids.* TO 'plain'@'%';`;
// Made by app after the start (the init file has no user to be their definer).
const STORED = ['CREATE VIEW ids.me AS SELECT CONNECTION_ID() AS id', 'CREATE PROCEDURE ids.me() SELECT CONNECTION_ID() AS id'];

let setup: ModeProxies;
/** Every target: direct first, then each mode's proxy. */
let targets: Array<[string, number]>;

before(async () => {
  setup = await startModeProxies(SETUP);
  const admin = await direct();
  for (const sql of STORED) await admin.query(sql);
  await admin.end();
  targets = [['direct', setup.db.port], ...[...setup.proxies].map(([mode, p]): [string, number] => [mode, p.port])];
});
after(() => setup?.stop());

function direct(): Promise<mysql.Connection> {
  return mysql.createConnection({ host: setup.db.host, port: setup.db.port, user: 'app', password: 'app-secret' });
}
function my(port: number, user = 'app', password = 'app-secret'): Promise<mysql.Connection> {
  return mysql.createConnection({ host: '127.0.0.1', port, user, password, multipleStatements: true });
}
function maria(port: number): Promise<mariadb.Connection> {
  return mariadb.createConnection({ host: '127.0.0.1', port, user: 'app', password: 'app-secret', multipleStatements: true });
}

/** How a read of one's id came out: the greeting's id, a compute thread's, or an error. */
function outcome(value: unknown, greeting: number): string {
  const v = Number(value);
  if (v === greeting) return 'greeting';
  return v > 0 && v < SESSION_ID_BASE ? 'compute' : `other ${String(value)}`;
}
/** Ends, from a direct connection, the statement running `info`. */
async function stopDirectly(info: string): Promise<void> {
  const k = await direct();
  try {
    const [rows] = (await k.query('SELECT ID FROM information_schema.PROCESSLIST WHERE INFO = ?', [info])) as any;
    for (const r of rows) await k.query(`KILL QUERY ${Number(r.ID)}`);
  } finally {
    await k.end();
  }
}
/** Waits until the statement `info` runs on the server (seen in its processlist): from then a KILL finds it. */
async function runningNow(info: string): Promise<void> {
  const k = await direct();
  try {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const [rows] = (await k.query('SELECT ID FROM information_schema.PROCESSLIST WHERE INFO = ?', [info])) as any;
      if (rows.length > 0) return;
      if (Date.now() > deadline) throw new Error(`'${info}' not running after 10 s`);
      await delay(10);
    }
  } finally {
    await k.end();
  }
}
/** A statement that runs until it is killed, named by `tag` so that no other statement is taken for it. */
function endless(tag: string): string {
  return `SELECT SLEEP(30) AS \`${tag}\``;
}
/**
 * After a KILL's answer: a KILL carried out ends `sleeping` at once; one that was not leaves
 * it running (RAN_ON), and it is then ended directly. How that direct KILL QUERY ends it is
 * the server's business: usually 1317, but an interrupted SLEEP() may also just return 1
 * (seen when two test files share the cores), so either counts as stopped.
 */
async function ranOn(sleeping: Promise<string>, info: string): Promise<string> {
  const early = await Promise.race([sleeping, delay(1_000).then(() => null)]);
  if (early !== null) return early;
  await stopDirectly(info);
  const end = await sleeping;
  return end === 'error 1317' || end === 'finished' ? RAN_ON : `ran on, then ${end}`;
}
const RAN_ON = 'ran on, then stopped directly';
/**
 * `run` against every target at once, the outcomes by target: for the checks that wait to
 * see a statement run on. Each target has its own sessions and statements, and no KILL
 * names another target's session.
 */
async function everyTargetAtOnce<T>(run: (mode: string, port: number) => Promise<T>): Promise<Map<string, T>> {
  const outcomes = await Promise.all(targets.map(([mode, port]) => run(mode, port)));
  return new Map(targets.map(([mode], i) => [mode, outcomes[i]!]));
}
function failure(err: any): string {
  return `error ${err.errno}`;
}
function dump(title: string, seen: Map<string, unknown>): void {
  if (process.env.IDS_DUMP) console.log(title, JSON.stringify(Object.fromEntries(seen)));
}

/** The first column of the first row, whatever shape the driver gives (a CALL's rows come first). */
function firstValue(rows: any): unknown {
  let r = rows;
  while (Array.isArray(r)) r = r[0];
  return r === undefined ? undefined : Object.values(r)[0];
}

// Every way to read one's own id, as text (COM_QUERY) and where a driver can, prepared (binary).
const READS: Array<{ name: string; sql: string; binary: boolean; pooled: 'greeting' | 'refused' | 'compute' }> = [
  { name: 'bare, aliased', sql: 'SELECT CONNECTION_ID() AS id', binary: true, pooled: 'greeting' },
  { name: 'bare, lower case', sql: 'select connection_id()', binary: true, pooled: 'greeting' },
  { name: 'bare, FROM DUAL, a comment before it', sql: '/* who */ SELECT CONNECTION_ID() id FROM DUAL', binary: false, pooled: 'greeting' },
  { name: 'with another column', sql: 'SELECT CONNECTION_ID() AS id, 1 AS one', binary: true, pooled: 'refused' },
  { name: 'in an expression', sql: 'SELECT CONNECTION_ID() + 0 AS id', binary: true, pooled: 'refused' },
  { name: 'in a subquery', sql: 'SELECT (SELECT CONNECTION_ID()) AS id', binary: false, pooled: 'refused' },
  { name: 'in a WHERE on the processlist', sql: 'SELECT ID FROM information_schema.PROCESSLIST WHERE ID = CONNECTION_ID()', binary: true, pooled: 'refused' },
  { name: '@@pseudo_thread_id', sql: 'SELECT @@pseudo_thread_id AS id', binary: true, pooled: 'refused' },
  { name: '@@session.pseudo_thread_id', sql: 'SELECT @@session.pseudo_thread_id AS id', binary: false, pooled: 'refused' },
  { name: 'EXECUTE IMMEDIATE', sql: "EXECUTE IMMEDIATE 'SELECT CONNECTION_ID() AS id'", binary: false, pooled: 'refused' },
  // The proxy cannot see inside stored code: the compute's id (README, Limits).
  { name: 'a view', sql: 'SELECT id FROM ids.me', binary: true, pooled: 'compute' },
  { name: 'a stored procedure', sql: 'CALL ids.me()', binary: false, pooled: 'compute' },
];

describe('reading one’s own id', () => {
  for (const read of READS) {
    test(`${read.name}: ${read.sql}`, async () => {
      const seen = new Map<string, string[]>();
      for (const [mode, port] of targets) {
        const got: string[] = [];
        const a = await my(port);
        got.push(await a.query(read.sql).then(([rows]) => outcome(firstValue(rows), a.threadId!), failure));
        if (read.binary) got.push(await a.execute(read.sql).then(([rows]) => outcome(firstValue(rows), a.threadId!), failure));
        // The session goes on after a refusal.
        assert.equal(firstValue((await a.query('SELECT 1 AS ok'))[0]), 1, mode);
        await a.end();
        const b = await maria(port);
        got.push(await b.query(read.sql).then((rows: any) => outcome(firstValue(rows), Number(b.threadId)), failure));
        if (read.binary) got.push(await b.execute(read.sql).then((rows: any) => outcome(firstValue(rows), Number(b.threadId)), failure));
        await b.end();
        seen.set(mode, got);
      }
      dump(read.name, seen);
      const n = seen.get('direct')!.length;
      assert.deepEqual(seen.get('direct'), Array(n).fill('greeting'));
      // Pipe mode: the compute's own id, the one its processlist and KILL agree on (README).
      for (const mode of ['pipe (passthrough)', 'pipe (verified)']) assert.deepEqual(seen.get(mode), Array(n).fill('compute'), mode);
      const textPooled = { greeting: 'greeting', refused: 'error 1235', compute: 'compute' }[read.pooled];
      // Prepared, anything naming the id is refused at the prepare (it would run on whichever compute connection).
      const binaryPooled = read.pooled === 'compute' ? 'compute' : 'error 1235';
      const expected = read.binary ? [textPooled, binaryPooled, textPooled, binaryPooled] : [textPooled, textPooled];
      for (const mode of POOLED) assert.deepEqual(seen.get(mode), expected, mode);
    });
  }

  test('the probe other tests read the compute thread with (compute-thread.ts): the id directly, a live compute thread through every mode', async () => {
    for (const [mode, port] of targets) {
      const c = await my(port);
      const text = Number(firstValue((await c.query(COMPUTE_THREAD))[0]));
      const prepared = Number(firstValue((await c.execute(`SELECT ${COMPUTE_THREAD_EXPR} AS id, ? AS v`, [1]))[0]));
      const [list] = (await c.query('SHOW PROCESSLIST')) as any;
      if (mode === 'direct') assert.equal(text, c.threadId);
      assert.ok(list.some((r: any) => Number(r.Id) === text), `${mode}: ${text} is a compute thread`);
      if (mode !== 'transaction') assert.equal(prepared, text, mode);
      await c.end();
    }
  });

  test('a refusal is 1235 with SQLSTATE 42000 and says what to use instead, in every pooled mode', async () => {
    for (const mode of POOLED) {
      const c = await my(setup.proxies.get(mode)!.port);
      await assert.rejects(c.query('SELECT CONNECTION_ID(), 1'), (e: any) => e.errno === 1235 && e.sqlState === '42000' && /bare SELECT CONNECTION_ID\(\)/.test(e.message));
      await assert.rejects(c.query('SELECT @@pseudo_thread_id'), (e: any) => e.errno === 1235 && /pseudo_thread_id/.test(e.message));
      // Not a use of the id: a column or a string of that name, in a comment.
      assert.equal(firstValue((await c.query("SELECT 'connection_id()' AS s /* CONNECTION_ID() */"))[0]), 'connection_id()');
      // Defining stored code reads no id (its body's reads are the compute's, as when defined directly); a KILL in it is refused.
      await c.query(`CREATE OR REPLACE VIEW ids.me_${mode} AS SELECT CONNECTION_ID() AS id`);
      await assert.rejects(c.query(`CREATE PROCEDURE ids.kill_${mode}() KILL 5`), (e: any) => e.errno === 1235);
      await c.end();
    }
  });
});

describe('the processlist and KILL of the ids it shows', () => {
  test('SHOW [FULL] PROCESSLIST and information_schema.PROCESSLIST show compute threads; the greeting id is in it only directly', async () => {
    const seen = new Map<string, string>();
    for (const [mode, port] of targets) {
      const c = await my(port);
      const ids = new Set<number>();
      for (const sql of ['SHOW PROCESSLIST', 'SHOW FULL PROCESSLIST', 'SELECT ID FROM information_schema.PROCESSLIST']) {
        const [rows] = (await c.query(sql)) as any;
        for (const r of rows) ids.add(Number(r.Id ?? r.ID));
      }
      seen.set(mode, ids.has(c.threadId!) ? 'own id listed' : [...ids].every((id) => id < SESSION_ID_BASE) ? 'compute ids only' : 'other');
      await c.end();
    }
    dump('processlist', seen);
    assert.equal(seen.get('direct'), 'own id listed');
    for (const mode of setup.proxies.keys()) assert.equal(seen.get(mode), 'compute ids only', mode);
  });

  test('KILL QUERY of a compute thread id shown in the processlist: direct and pipe kill it; pooled, 1094 and nothing is killed', async () => {
    const seen = new Map<string, string>();
    for (const [mode, port] of targets) {
      const bystander = await direct();
      const thread = bystander.threadId!;
      const info = endless(`bystander ${mode}`);
      const sleeping = bystander.query(info).then(() => 'finished', failure);
      await runningNow(info);
      const c = await my(port);
      const killed = await c.query(`KILL QUERY ${thread}`).then(() => 'ok', failure);
      if (killed !== 'ok') {
        const k = await direct();
        await k.query(`KILL QUERY ${thread}`);
        await k.end();
      }
      seen.set(mode, `${killed}; bystander ${await sleeping}`);
      await c.end();
      await bystander.end();
    }
    dump('KILL QUERY <compute id>', seen);
    for (const mode of ['direct', 'pipe (passthrough)', 'pipe (verified)']) assert.equal(seen.get(mode), 'ok; bystander error 1317', mode);
    // (The pooled bystander's 1317 comes from the cleanup KILL, sent directly after the refusal.)
    for (const mode of POOLED) assert.equal(seen.get(mode), 'error 1094; bystander error 1317', mode);
  });

  test('transaction mode: a compute id from the processlist, held by another client now, is never killed through another route', async () => {
    const port = setup.proxies.get('transaction')!.port;
    const victim = await my(port);
    const spy = await my(port);
    const info = endless('held');
    const sleeping = victim.query(info).then(() => 'finished', failure);
    await runningNow(info);
    const [rows] = (await spy.query('SELECT ID FROM information_schema.PROCESSLIST WHERE INFO = ?', [info])) as any;
    const thread = Number(rows[0].ID);
    assert.ok(thread < SESSION_ID_BASE);
    const forms = [
      `KILL QUERY ${thread}`,
      `KILL HARD QUERY ${thread}`,
      `SELECT 1; KILL QUERY ${thread}`,
      `/* x */ DO 0; KILL QUERY ${thread}`,
      `BEGIN NOT ATOMIC KILL QUERY ${thread}; END`,
      `EXECUTE IMMEDIATE 'KILL QUERY ${thread}'`,
      `PREPARE k FROM 'KILL QUERY ${thread}'`,
    ];
    const got: string[] = [];
    for (const sql of forms) got.push(await spy.query(sql).then(() => 'ok', failure));
    got.push(await spy.execute(`KILL QUERY ${thread}`).then(() => 'ok', failure));
    got.push(await spy.query(`/* ${'x'.repeat(70_000)} */ KILL QUERY ${thread}`).then(() => 'ok', failure));
    assert.deepEqual(got, ['error 1094', 'error 1094', 'error 1235', 'error 1235', 'error 1235', 'error 1235', 'error 1235', 'error 1235', 'error 1094']);
    assert.equal(await ranOn(sleeping, info), RAN_ON, 'the victim statement ran on');
    await victim.end();
    await spy.end();
  });

  test('KILL hidden in a multi-statement, dynamic SQL or a prepare: pooled modes refuse it (1235); directly it kills', async () => {
    const seen = await everyTargetAtOnce(async (mode, port) => {
      const got: string[] = [];
      for (const sql of ['SELECT 1; KILL QUERY %', "EXECUTE IMMEDIATE 'KILL QUERY %'", 'PREPARE' /* binary */]) {
        const victim = await my(port);
        const c = await my(port);
        const info = endless(`hidden ${mode}`);
        const sleeping = victim.query(info).then(() => 'finished', failure);
        await runningNow(info);
        const id = victim.threadId!;
        const ran = sql === 'PREPARE' ? c.execute(`KILL QUERY ${id}`) : c.query(sql.replace('%', String(id)));
        const answer = await ran.then(() => 'ok', failure);
        got.push(`${answer}/${await ranOn(sleeping, info)}`);
        await victim.end();
        await c.end();
      }
      return got;
    });
    dump('hidden KILL', seen);
    assert.deepEqual(seen.get('direct'), ['ok/error 1317', 'ok/error 1317', 'ok/error 1317']);
    const refused = `error 1235/${RAN_ON}`;
    for (const mode of POOLED) assert.deepEqual(seen.get(mode), [refused, refused, refused], mode);
  });

  test('KILL [HARD|SOFT] [QUERY|CONNECTION] <greeting id>, KILL QUERY ID, KILL USER: as directly, or refused with 1235 where pooled', async () => {
    const seen = new Map<string, string[]>();
    for (const [mode, port] of targets) {
      const got: string[] = [];
      for (const form of ['KILL SOFT QUERY %', 'KILL HARD QUERY %', 'KILL QUERY ID %q', 'KILL SOFT CONNECTION %']) {
        const victim = await maria(port);
        victim.on('error', () => undefined);
        const c = await my(port);
        const info = endless(`${form} ${mode}`);
        const sleeping = victim.query(info).then(() => 'finished', failure);
        await runningNow(info);
        let sql = form.replace('%', String(victim.threadId));
        if (form.endsWith('%q')) {
          const k = await direct();
          const [[row]] = (await k.query('SELECT QUERY_ID AS q FROM information_schema.PROCESSLIST WHERE INFO = ?', [info])) as any;
          await k.end();
          sql = `KILL QUERY ID ${row.q}`;
        }
        const answer = await c.query(sql).then(() => 'ok', failure);
        got.push(`${answer}/${await ranOn(sleeping, info)}`);
        await victim.end().catch(() => undefined);
        await c.end();
      }
      const c = await my(port);
      got.push(await c.query("KILL USER 'nobody'@'%'").then(() => 'ok', failure));
      await c.end();
      seen.set(mode, got);
    }
    dump('KILL forms', seen);
    // The connector reports a connection killed under it as closed (45009).
    const same = ['ok/error 1317', 'ok/error 1317', 'ok/error 1317', 'ok/error 45009', 'ok'];
    assert.deepEqual(seen.get('direct'), same);
    for (const mode of ['pipe (passthrough)', 'pipe (verified)']) assert.deepEqual(seen.get(mode), same, mode);
    for (const mode of POOLED) assert.deepEqual(seen.get(mode), [...same.slice(0, 2), `error 1235/${RAN_ON}`, same[3], 'error 1235'], mode);
  });

  test('without CONNECTION ADMIN: 1095 for another user’s session, 1094 for an unknown id, as directly', async () => {
    const seen = await everyTargetAtOnce(async (mode, port) => {
      const victim = await my(port);
      const plain = await my(port, 'plain', 'plain-secret');
      const info = endless(`unprivileged ${mode}`);
      const sleeping = victim.query(info).then(() => 'finished', failure);
      await runningNow(info);
      const got: string[] = [];
      for (const sql of [`KILL QUERY ${victim.threadId}`, `KILL ${victim.threadId}`, 'KILL 987654', `KILL QUERY ${SESSION_ID_BASE + 999_999}`]) {
        got.push(await plain.query(sql).then(() => 'ok', (e: any) => `error ${e.errno} ${e.message.replace(String(victim.threadId), '<victim>')}`));
      }
      got.push(`victim ${await ranOn(sleeping, info)}`);
      await victim.end();
      await plain.end();
      return got;
    });
    dump('unprivileged', seen);
    const reference = seen.get('direct')!;
    assert.match(reference[0]!, /^error 1095 You are not owner of thread <victim>$/);
    for (const [mode, got] of seen) {
      assert.equal(got[0]!.slice(0, 'error 1095'.length), 'error 1095', mode);
      assert.equal(got[1]!.slice(0, 'error 1095'.length), 'error 1095', mode);
      assert.equal(got[2], 'error 1094 Unknown thread id: 987654', mode);
      assert.equal(got[3], `error 1094 Unknown thread id: ${SESSION_ID_BASE + 999_999}`, mode);
      assert.equal(got[4], `victim ${RAN_ON}`, mode);
    }
  });

  test('COM_PROCESS_KILL on the raw wire: the same bytes as directly for an unknown id; pooled, a compute thread id is unknown', async () => {
    for (const [mode, port] of targets) {
      const unknown = await processKill(port, 987654);
      assert.equal(unknown.toString('latin1', 4), (await processKill(setup.db.port, 987654)).toString('latin1', 4), mode);
      const bystander = await direct();
      const reply = await processKill(port, bystander.threadId!);
      const alive = await bystander.query('SELECT 1').then(() => 'alive', () => 'killed');
      if (alive === 'alive') await bystander.end();
      assert.equal(`${reply[4] === 0xff ? `error ${reply.readUInt16LE(5)}` : 'ok'}/${alive}`, POOLED.has(mode) ? 'error 1094/alive' : 'ok/killed', mode);
    }
  });

  test('SHOW EXPLAIN FOR, SHOW ANALYZE FOR, EXPLAIN FOR CONNECTION with the greeting id: as directly, or refused clearly', async () => {
    const seen = new Map<string, string[]>();
    for (const [mode, port] of targets) {
      const victim = await my(port);
      const c = await my(port);
      // Runs until ended below, a plan to show all along; the server answers SHOW EXPLAIN between rows, so they come often.
      const info = `SELECT SLEEP(0.05) AS \`explained ${mode}\` FROM ids.t, mysql.seq_1_to_200`;
      const running = victim.query(info).then(() => 'finished', failure);
      await runningNow(info);
      const got: string[] = [];
      for (const sql of [`SHOW EXPLAIN FOR ${victim.threadId}`, `SHOW ANALYZE FOR ${victim.threadId}`, `EXPLAIN FOR CONNECTION ${victim.threadId}`]) {
        got.push(await c.query(sql).then(() => 'result', failure));
      }
      await stopDirectly(info);
      assert.equal(await running, 'error 1317', mode);
      seen.set(mode, got);
      await victim.end();
      await c.end();
    }
    dump('SHOW EXPLAIN', seen);
    assert.deepEqual(seen.get('direct'), ['result', 'result', 'result']);
    for (const mode of setup.proxies.keys()) {
      for (const got of seen.get(mode)!) assert.match(got, POOLED.has(mode) ? /^error 1235$/ : /^(result|error 1094)$/, mode);
    }
  });
});

describe('two transaction proxies sharing Redis', () => {
  let redis: RedisServer;
  const proxies: ProxyProcess[] = [];
  before(async () => {
    redis = await startRedis();
    const flags = ['--backend', `${setup.db.host}:${setup.db.port}`, '--accounts-user', READER.user, '--accounts-password', READER.password, '--pool-mode', 'transaction', '--redis', redis.url];
    proxies.push(await startProxyProcess(flags), await startProxyProcess(flags));
  });
  after(async () => {
    for (const p of proxies) await p.kill('SIGTERM');
    await redis?.close();
  });

  test('ids and KILL: a session id reaches the other proxy’s session, a compute id is refused, reads of the id as through one proxy', async () => {
    const [a, b] = proxies as [ProxyProcess, ProxyProcess];
    const victim = await my(a.port);
    const killer = await my(b.port);
    assert.notEqual(instanceOf(victim.threadId!), instanceOf(killer.threadId!));
    assert.equal(firstValue((await killer.query('SELECT CONNECTION_ID() AS id'))[0]), killer.threadId);
    await assert.rejects(killer.query('SELECT CONNECTION_ID() + 0'), (e: any) => e.errno === 1235);
    const sleeping = victim.query('SELECT SLEEP(3) AS s2').then(() => 'finished', failure);
    await runningNow('SELECT SLEEP(3) AS s2');
    const [rows] = (await killer.query("SELECT ID FROM information_schema.PROCESSLIST WHERE INFO = 'SELECT SLEEP(3) AS s2'")) as any;
    await assert.rejects(killer.query(`KILL QUERY ${rows[0].ID}`), (e: any) => e.errno === 1094);
    await assert.rejects(killer.query(`SELECT 1; KILL QUERY ${rows[0].ID}`), (e: any) => e.errno === 1235);
    await killer.query(`KILL QUERY ${victim.threadId}`);
    assert.equal(await sleeping, 'error 1317');
    await victim.end();
    await killer.end();
  });
});

/** Logs in as app on the raw wire, sends COM_PROCESS_KILL for `id` and returns the reply packet (header included). */
async function processKill(port: number, id: number): Promise<Buffer> {
  const { outcome, socket } = await wireSession({ port, user: Buffer.from('app'), password: 'app-secret' });
  assert.equal(outcome.kind, 'ok');
  const payload = Buffer.alloc(5);
  payload[0] = COM_PROCESS_KILL;
  payload.writeUInt32LE(id, 1);
  const framer = new PacketFramer(1 << 24);
  const reply = new Promise<Buffer>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no reply to COM_PROCESS_KILL')), 5_000);
    socket.on('data', (chunk: Buffer) => {
      const [p] = framer.push(chunk);
      if (!p) return;
      clearTimeout(timer);
      resolve(framePacket(p.payload, p.sequenceId));
    });
    socket.resume();
  });
  socket.write(framePacket(payload, 0));
  try {
    return await reply;
  } finally {
    socket.destroy();
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
