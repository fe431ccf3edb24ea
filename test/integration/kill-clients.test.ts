// KILL and cancel through the proxy with real clients, in every pool mode: each
// client takes the id the greeting gave it (mysql2's and the mariadb connector's
// threadId, the CLI's `status`, Connector/J, PyMySQL) and its KILL stops exactly its
// own statement, within a second, whatever compute connection runs it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import * as mariadb from 'mariadb';
import { startStack, type ProjectCredentials, type Stack } from '../helpers/stack.js';
import { mariadbCli } from '../helpers/clients.js';
import { cliSleep, javaCancel, pymysqlCancel, removeJavaBuild } from '../helpers/cancel-clients.js';

const SESSION_ID_BASE = 2 ** 30;

type Mode = 'pipe (passthrough)' | 'pipe' | 'session' | 'transaction';
const MODES: Mode[] = ['pipe (passthrough)', 'pipe', 'session', 'transaction'];

after(() => removeJavaBuild());

for (const mode of MODES) {
  describe(`KILL in ${mode} mode`, () => {
    let stack: Stack;
    let p: ProjectCredentials;
    let user: string;
    const pooled = mode === 'session' || mode === 'transaction';
    const connect = (name = user, password = p.password) => mysql.createConnection({ host: '127.0.0.1', port: stack.proxy.port, user: name, password });
    const direct = async () => {
      const c = await stack.compute(p.computeId);
      return mysql.createConnection({ host: c.host, port: c.port, user: p.user, password: p.password });
    };

    before(async () => {
      stack = await startStack(mode === 'pipe (passthrough)' ? {} : { verify: { ttlMs: 5_000, poolMode: mode === 'pipe' ? 'pipe' : mode } });
      p = await stack.createProject('shop');
      user = `shop.${p.user}`;
      const owner = await direct();
      await owner.query("CREATE USER 'app'@'%' IDENTIFIED BY 'app-pw'");
      await owner.query("CREATE USER 'other'@'%' IDENTIFIED BY 'other-pw'");
      await owner.end();
    });
    after(() => stack?.close());

    test('the greeting carries a session id; the CLI shows it, and in the pooled modes CONNECTION_ID() answers it', async () => {
      const conn = await connect();
      assert.ok(conn.threadId! >= SESSION_ID_BASE && conn.threadId! < 2 * SESSION_ID_BASE, `threadId ${conn.threadId}`);
      const [[row]] = (await conn.query('SELECT CONNECTION_ID() AS id')) as any;
      if (pooled) assert.equal(row.id, conn.threadId);
      else assert.ok(row.id < SESSION_ID_BASE, 'pipe mode: the compute answers with its own thread id');
      // Described as the compute describes it (transaction mode: written by the proxy; session mode: CAST on the compute).
      const d = await direct();
      const describe = async (c: mysql.Connection) => {
        const [, [f]] = (await c.query('select Connection_Id()')) as any;
        return { name: f.name, type: f.columnType, length: f.columnLength, flags: f.flags, charset: f.characterSet, decimals: f.decimals };
      };
      assert.deepEqual(await describe(conn), await describe(d));
      await d.end();
      await conn.end();
      const cli = await mariadbCli(stack.proxy.port, user, p.password, 'status; select connection_id()');
      assert.equal(cli.code, 0, cli.stderr);
      const shown = Number(/Connection id:\s+(\d+)/.exec(cli.stdout)?.[1]);
      const answered = Number(cli.stdout.trim().split('\n').at(-1));
      assert.ok(shown >= SESSION_ID_BASE, cli.stdout);
      if (pooled) assert.equal(answered, shown);
      else assert.notEqual(answered, shown);
    });

    test('mysql2 and the mariadb connector: KILL QUERY with their threadId stops SELECT SLEEP(30) within a second', async () => {
      const killer = await connect();
      const victim = await connect();
      const started = performance.now();
      const sleeping = victim.query('SELECT SLEEP(30)').then(
        () => 'finished',
        (err: any) => `error ${err.errno}`,
      );
      await delay(300);
      await killer.query(`KILL QUERY ${victim.threadId}`);
      assert.equal(await sleeping, 'error 1317');
      assert.ok(performance.now() - started < 1_000, `took ${Math.round(performance.now() - started)} ms`);
      const [[again]] = (await victim.query('SELECT 41 + 1 AS v')) as any;
      assert.equal(again.v, 42, 'KILL QUERY leaves the session usable');
      await victim.end();

      const m = await mariadb.createConnection({ host: '127.0.0.1', port: stack.proxy.port, user, password: p.password });
      // The connector reports a connection closed under it (the KILL CONNECTION below) as an 'error' event.
      m.on('error', () => undefined);
      assert.ok(Number(m.threadId) >= SESSION_ID_BASE);
      const t0 = performance.now();
      const mSleeping = m.query('SELECT SLEEP(30)').then(
        () => 'finished',
        (err: any) => `error ${err.errno}`,
      );
      await delay(300);
      await killer.query(`KILL QUERY ${m.threadId}`);
      assert.equal(await mSleeping, 'error 1317');
      assert.ok(performance.now() - t0 < 1_000);
      // KILL CONNECTION ends it.
      await killer.query(`KILL CONNECTION ${m.threadId}`);
      await assert.rejects(m.query('SELECT 1'));
      await m.end().catch(() => undefined);
      await killer.end();
    });

    test('the mariadb CLI: KILL QUERY from a second CLI with the id `status` shows', async () => {
      const victim = cliSleep(stack.proxy.port, user, p.password, 30);
      const id = await victim.id;
      await delay(300);
      const kill = await mariadbCli(stack.proxy.port, user, p.password, `KILL QUERY ${id}`);
      assert.equal(kill.code, 0, kill.stderr);
      const done = await victim.done;
      assert.match(done.out, /1317|interrupted/i);
      assert.ok(done.ms < 1_500, `the CLI ran ${done.ms} ms after printing its id`);
    });

    test("Connector/J's Statement.cancel() stops its own statement", async () => {
      const r = await javaCancel(stack.proxy.port, user, p.password);
      assert.ok(r.ms < 1_500, `SLEEP(30) ran ${r.ms} ms (${r.outcome})`);
      assert.match(r.outcome, /error 1317|interrupted/i);
      assert.equal(r.after, '42');
    });

    test('PyMySQL: KILL QUERY with thread_id(), and kill() (COM_PROCESS_KILL, ends the connection)', async () => {
      const q = await pymysqlCancel(stack.proxy.port, user, p.password, 'query');
      assert.ok(q.thread >= SESSION_ID_BASE);
      assert.ok(q.ms < 1_000, `${q.ms} ms: ${q.outcome}`);
      assert.match(q.outcome, /error 1317/);
      assert.equal(q.after, '42');
      const k = await pymysqlCancel(stack.proxy.port, user, p.password, 'process_kill');
      assert.ok(k.ms < 1_000, `${k.ms} ms: ${k.outcome}`);
      assert.match(k.after, /^error/, 'COM_PROCESS_KILL kills the connection');
    });

    test('a KILL never reaches a session other than the one named (the victim repro)', async () => {
      const bystander = await direct();
      const [[{ id: thread }]] = (await bystander.query('SELECT CONNECTION_ID() AS id')) as any;
      const conns = await Promise.all([connect(), connect(), connect()]);
      for (const c of conns) assert.notEqual(c.threadId, thread, 'no greeting id is a compute thread id');
      // A session that kills "itself" by its greeting id kills itself only.
      const self = conns[0]!;
      await assert.rejects(self.query(`KILL CONNECTION ${self.threadId}`), (e: any) => e.errno === 1927);
      if (pooled) {
        // A compute thread id is not one the proxy issued: refused, never passed raw to a shared connection.
        await assert.rejects(conns[1]!.query(`KILL CONNECTION ${thread}`), (e: any) => e.errno === 1094 && e.message === `Unknown thread id: ${thread}`);
        await assert.rejects(conns[1]!.query(`KILL QUERY ${SESSION_ID_BASE + 123_456}`), (e: any) => e.errno === 1094);
      }
      const [[alive]] = (await bystander.query('SELECT 1 AS ok')) as any;
      assert.equal(alive.ok, 1, 'the direct session survived');
      for (const c of conns.slice(1)) assert.equal(((await c.query('SELECT 1 AS ok')) as any)[0][0].ok, 1);
      for (const c of conns.slice(1)) await c.end();
      await bystander.end();
    });

    test("another user's statement: refused as the compute refuses it; an account with CONNECTION ADMIN may", async () => {
      const victim = await connect('shop.app', 'app-pw');
      const other = await connect('shop.other', 'other-pw');
      const owner = await connect();
      const sleeping = victim.query('SELECT SLEEP(30)').then(
        () => 'finished',
        (err: any) => `error ${err.errno}`,
      );
      await delay(300);
      await assert.rejects(other.query(`KILL QUERY ${victim.threadId}`), (e: any) => e.errno === 1095);
      await owner.query(`KILL QUERY ${victim.threadId}`);
      assert.equal(await sleeping, 'error 1317');
      // Between statements (a pooled session holds no compute thread then) the proxy applies the same rule.
      await assert.rejects(other.query(`KILL CONNECTION ${victim.threadId}`), (e: any) => e.errno === 1095);
      assert.equal(((await victim.query('SELECT 1 AS ok')) as any)[0][0].ok, 1);
      if (mode === 'transaction') {
        await assert.rejects(other.query(`KILL QUERY ${victim.threadId}`), (e: any) => e.message === `You are not owner of thread ${victim.threadId}`);
      }
      await owner.query(`KILL CONNECTION ${victim.threadId}`);
      await assert.rejects(victim.query('SELECT 1'));
      for (const c of [other, owner]) await c.end();
    });

    test('KILL forms the pooled modes cannot carry out are refused with a clear error', async () => {
      const conn = await connect();
      const forms = ['KILL QUERY ID 5', 'KILL USER app', `KILL QUERY ${conn.threadId} + 0`];
      for (const sql of forms) {
        if (pooled) await assert.rejects(conn.query(sql), (e: any) => e.errno === 1235 && /wake-proxy/.test(e.message), sql);
        else await conn.query(sql).catch((e: any) => assert.notEqual(e.errno, 1235, sql));
      }
      assert.equal(((await conn.query('SELECT 1 AS ok')) as any)[0][0].ok, 1);
      await conn.end();
    });
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
