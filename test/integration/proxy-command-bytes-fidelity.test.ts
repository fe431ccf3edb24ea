// A differential sweep of the command bytes a server knows of (and some it does not): a
// bare client sends each command, with a plausible payload and with an empty, short or
// malformed one, then `SELECT 1`, directly to mariadbd and through the proxy in pipe,
// session and transaction mode, and every byte after its login's OK is compared. After
// each session a second client (mysql2) checks the compute connection the first one may
// have left behind (a pooled one goes to the next client). Where the proxy cannot do
// what the server does on a pooled connection (replication, a shutdown), it refuses
// with an error that says why, and the test says so (README, "Pool modes").
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import mariadb from 'mariadb';
import mysql from 'mysql2/promise';
import { mysql2Steps, plain, startFidelityTargets, type FidelityTargets } from '../helpers/pooled-fidelity.js';
import { command, packets, sql, wire as wireAs } from '../helpers/wire-packets.js';
import { wireSession } from '../helpers/wire-login.js';
import { READER } from '../helpers/mode-proxies.js';
import { COMPUTE_THREAD_EXPR } from '../helpers/compute-thread.js';
import { startProxyProcess } from '../helpers/proxy-process.js';
import {
  COM_BINLOG_DUMP,
  COM_BINLOG_DUMP_GTID,
  COM_CONNECT,
  COM_CONNECT_OUT,
  COM_CREATE_DB,
  COM_DAEMON,
  COM_DEBUG,
  COM_DELAYED_INSERT,
  COM_DROP_DB,
  COM_PROCESS_INFO,
  COM_PROCESS_KILL,
  COM_REFRESH,
  COM_REGISTER_SLAVE,
  COM_SHUTDOWN,
  COM_SLEEP,
  COM_STMT_BULK_EXECUTE,
  COM_STMT_CLOSE,
  COM_STMT_EXECUTE,
  COM_STMT_FETCH,
  COM_STMT_PREPARE,
  COM_STMT_RESET,
  COM_STMT_SEND_LONG_DATA,
  COM_TABLE_DUMP,
  COM_TIME,
  MARIADB_CLIENT_STMT_BULK_OPERATIONS,
} from '../../protocol/index.js';

/** A bare session as `user` (its password next), pipelining `commands`. */
const wire = (port: number, commands: Buffer[], user = 'app', password = 'app-secret', o: { mariadbCapabilities?: number } = {}) =>
  wireAs(port, commands, { user: Buffer.from(user), password, ...o });

const MODES = ['pipe', 'session', 'transaction'];
// `other` (SELECT, INSERT, CREATE, DROP on fid.*) holds no global privilege: RELOAD, SHUTDOWN, SUPER, REPLICATION.

let t: FidelityTargets;
before(async () => {
  t = await startFidelityTargets([], MODES);
});
after(async () => {
  await t?.stop();
});

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
};
const u16 = (n: number) => Buffer.from([n & 0xff, n >> 8]);
const bytes = (...b: number[]) => Buffer.from(b);
/** COM_BINLOG_DUMP: position, flags (1: BINLOG_DUMP_NON_BLOCK), server id, file name. */
const binlogDump = (file: string) => Buffer.concat([u32(4), u16(1), u32(4242), Buffer.from(file)]);
/** COM_REGISTER_SLAVE: server id, host, user, password (each a length byte and bytes), port, rank, master id. */
const registerSlave = Buffer.concat([u32(4243), bytes(4), Buffer.from('peer'), bytes(0), bytes(0), u16(3307), u32(0), u32(0)]);
/** COM_BINLOG_DUMP_GTID: flags, server id, file name length and name, position, data length and GTID data. */
const binlogDumpGtid = Buffer.concat([u16(1), u32(4244), u32(0), u32(4), u32(0), u32(0)]);
const SELECT_1 = sql('SELECT 1');
/** The statement just prepared (statement ids are the server's or the proxy's, and differ). */
const LAST = 0xffffffff;

/**
 * What the next client of the same user gets on the compute connection a session left
 * (in transaction mode most often the very same): it must see what it sees directly.
 */
async function nextClient(port: number): Promise<unknown[]> {
  return mysql2Steps(port, ['SELECT 1 AS one', 'SELECT @@in_transaction AS t, DATABASE() AS d', 'SHOW SLAVE HOSTS']);
}

/**
 * One session of `commands` then SELECT 1 (as `user`), and what the next client sees, on
 * every target; returns what the server answered directly, for the test to say what it is.
 */
async function sameAsDirect(commands: Buffer[], user: [string, string] = ['app', 'app-secret']): Promise<string[]> {
  const seen = await t.sameAsDirect(async (port) => ({ session: withoutStatementIds(packets(await wire(port, [...commands, SELECT_1], ...user))), next: await nextClient(port) }));
  return seen.get('direct')!.session;
}

/** The server's answers to the commands before the closing SELECT 1 (5 packets) match `expected`, one each. */
function answered(direct: string[], expected: RegExp): void {
  const answers = direct.slice(0, -5);
  assert.ok(answers.length > 0);
  for (const a of answers) assert.match(a, expected);
}

const UNKNOWN_COMMAND = /^1: .+#08S01Unknown command /;
const OK = /^1: \.{7} \[00000002000000\]$/;
const DENIED = (privilege: string) => new RegExp(`^1: .+#42000Access denied; you need \\(at least one of\\) the ${privilege} privilege\\(s\\) for this operation `);

/** A COM_STMT_PREPARE OK's statement id masked: the server's ids count per connection, and the proxy's are its own. */
function withoutStatementIds(ps: string[]): string[] {
  return ps.map((p) => p.replace(/^1: .* \[00[0-9a-f]{8}([0-9a-f]{14})\]$/, '1: prepared [00xxxxxxxx$1]'));
}

/** What a session got, where the pooled modes refuse with their own error: direct and pipe alike; pooled, the refusal then SELECT 1. */
async function refusedWhenPooled(commands: Buffer[], user: [string, string], refusal: RegExp): Promise<void> {
  const seen = new Map<string, string[]>();
  for (const [mode, port] of t.targets()) seen.set(mode, packets(await wire(port, [...commands, SELECT_1], ...user)));
  if (process.env.FIDELITY_DUMP) console.log(JSON.stringify([...seen], null, 1));
  assert.deepEqual(seen.get('pipe'), seen.get('direct'), 'pipe differs from direct');
  for (const mode of ['session', 'transaction']) {
    const got = seen.get(mode)!;
    assert.equal(got.length, commands.length + 5, `${mode}: ${got.join('\n')}`); // an ERR each, then SELECT 1's column count, column, EOF, row, EOF
    for (const p of got.slice(0, commands.length)) assert.match(p, refusal, mode);
  }
  for (const [mode, port] of t.targets()) assert.deepEqual(await nextClient(port), await nextClient(t.db.port), `${mode}: the next client`);
}

// Commands the server no longer serves, and bytes that were never commands: 1047 Unknown command.
for (const [name, code] of [
  ['COM_SLEEP', COM_SLEEP],
  ['COM_CONNECT', COM_CONNECT],
  ['COM_TIME', COM_TIME],
  ['COM_DELAYED_INSERT', COM_DELAYED_INSERT],
  ['COM_TABLE_DUMP', COM_TABLE_DUMP],
  ['COM_CONNECT_OUT', COM_CONNECT_OUT],
  ['COM_DAEMON', COM_DAEMON],
  ['0x20', 0x20],
  ['0x7f', 0x7f],
  ['0xf0', 0xf0],
  ['0xff', 0xff],
] as const) {
  test(`${name}: bare, with a payload, and with a long one; then SELECT 1`, async () => {
    answered(await sameAsDirect([command(code), command(code, 'fid\0t'), command(code, Buffer.alloc(300, 7))]), UNKNOWN_COMMAND);
  });
}

test('COM_CREATE_DB and COM_DROP_DB (gone from MariaDB: 1047, nothing made or dropped): a name, the same again, an empty one, one without privilege', async () => {
  answered(await sameAsDirect([command(COM_CREATE_DB, 'cmd_made'), command(COM_CREATE_DB, 'cmd_made'), command(COM_DROP_DB, 'cmd_made'), command(COM_DROP_DB, 'cmd_made'), command(COM_CREATE_DB), command(COM_DROP_DB)]), UNKNOWN_COMMAND);
  answered(await sameAsDirect([command(COM_CREATE_DB, 'cmd_other'), command(COM_DROP_DB, 'fid'), command(COM_DROP_DB)], ['other', 'other-secret']), UNKNOWN_COMMAND);
});

test('COM_REFRESH: tables with RELOAD; without it (1227); an empty and a long payload', async () => {
  answered(await sameAsDirect([command(COM_REFRESH, bytes(0x04)), command(COM_REFRESH), command(COM_REFRESH, bytes(0x04, 0, 0))]), OK);
  answered(await sameAsDirect([command(COM_REFRESH, bytes(0x04)), command(COM_REFRESH), command(COM_REFRESH, bytes(0x01, 0x02))], ['other', 'other-secret']), DENIED('RELOAD'));
});

test('COM_SHUTDOWN as a user without SHUTDOWN: the server\'s 1227 in every mode, and nothing shuts down', async () => {
  answered(await sameAsDirect([command(COM_SHUTDOWN), command(COM_SHUTDOWN, bytes(0)), command(COM_SHUTDOWN, bytes(0xff, 1, 2))], ['other', 'other-secret']), DENIED('SHUTDOWN'));
});

test('COM_SHUTDOWN as a user with SHUTDOWN, pooled: refused by the proxy, and the compute still serves (directly it would stop)', async () => {
  for (const [mode, port] of t.targets()) {
    if (mode !== 'session' && mode !== 'transaction') continue; // directly and in pipe mode this server would stop
    const seen = packets(await wire(port, [command(COM_SHUTDOWN), command(COM_SHUTDOWN, bytes(0)), SELECT_1]));
    assert.equal(seen.length, 7, `${mode}: ${seen.join('\n')}`);
    for (const p of seen.slice(0, 2)) assert.match(p, /^1: .+#42000wake-proxy: COM_SHUTDOWN is not supported on a pooled connection/, mode);
    assert.deepEqual(await nextClient(port), await nextClient(t.db.port), mode);
  }
});

test('COM_DEBUG without SUPER (1227), and with a payload', async () => {
  answered(await sameAsDirect([command(COM_DEBUG), command(COM_DEBUG, 'x')], ['other', 'other-secret']), DENIED('SUPER'));
});

test('COM_PROCESS_INFO: a process list result set (its rows are the connections of the moment), and with a payload', async () => {
  // The rows are the user's connections of the moment (ids, ports, times; pooled ones
  // too): the metadata, the EOF after the rows (its sequence id counts them) and the rest are compared.
  for (const payload of [Buffer.alloc(0), Buffer.from('junk')]) {
    await t.sameAsDirect(async (port) => {
      const ps = packets(await wire(port, [command(COM_PROCESS_INFO, payload), SELECT_1], 'other', 'other-secret'));
      // Column count, 9 column definitions, EOF; then rows until an EOF; SELECT 1's 5 packets.
      const rowsEnd = ps.findIndex((p, i) => i > 10 && p.includes('[fe'));
      return { head: ps.slice(0, 11), rowsEnd: ps[rowsEnd]!.replace(/^\d+/, 'N'), tail: ps.slice(rowsEnd + 1), rows: rowsEnd > 11 };
    });
  }
});

test('replication commands: as the server in pipe mode; refused on pooled connections, which they would leave registered or closed, whoever asks', async () => {
  const refusal = /^1: .+#42000wake-proxy: (COM_BINLOG_DUMP|COM_REGISTER_SLAVE|COM_BINLOG_DUMP_GTID) is not supported on a pooled connection/;
  await refusedWhenPooled([command(COM_REGISTER_SLAVE, registerSlave), command(COM_BINLOG_DUMP, binlogDump('x')), command(COM_BINLOG_DUMP_GTID, binlogDumpGtid)], ['other', 'other-secret'], refusal);
  await refusedWhenPooled([command(COM_REGISTER_SLAVE, registerSlave)], ['app', 'app-secret'], refusal);
  await refusedWhenPooled([command(COM_REGISTER_SLAVE, bytes(1, 2))], ['app', 'app-secret'], refusal);
  await refusedWhenPooled([command(COM_BINLOG_DUMP, binlogDump('nosuch-bin.000001'))], ['app', 'app-secret'], refusal);
  await refusedWhenPooled([command(COM_BINLOG_DUMP_GTID, binlogDumpGtid)], ['app', 'app-secret'], refusal);
});

test('statement commands on unknown ids: COM_STMT_SEND_LONG_DATA, COM_STMT_RESET, COM_STMT_FETCH, COM_STMT_CLOSE, COM_STMT_BULK_EXECUTE, and short ones', async () => {
  await sameAsDirect([
    command(COM_STMT_SEND_LONG_DATA, Buffer.concat([u32(77), u16(0), Buffer.from('data')])),
    command(COM_STMT_RESET, u32(77)),
    command(COM_STMT_FETCH, Buffer.concat([u32(77), u32(1)])),
    command(COM_STMT_CLOSE, u32(77)),
    command(COM_STMT_BULK_EXECUTE, Buffer.concat([u32(77), u16(0)])),
    command(COM_STMT_EXECUTE, Buffer.concat([u32(77), bytes(0), u32(1)])),
    command(COM_STMT_CLOSE),
    command(COM_STMT_CLOSE, bytes(1, 2)),
    command(COM_STMT_BULK_EXECUTE, bytes(1)),
    command(COM_STMT_SEND_LONG_DATA, bytes(1)),
    command(COM_STMT_SEND_LONG_DATA, Buffer.concat([u32(77), bytes(0)])),
    command(COM_STMT_EXECUTE, u32(77)),
  ]);
  // The same with bulk operations negotiated: the server looks the statement up then.
  await t.sameAsDirect(async (port) =>
    packets(
      await wire(port, [command(COM_STMT_BULK_EXECUTE, Buffer.concat([u32(77), u16(0)])), command(COM_STMT_BULK_EXECUTE, Buffer.concat([u32(77), u16(64)])), command(COM_STMT_BULK_EXECUTE, bytes(1, 2, 3, 4, 5)), SELECT_1], 'app', 'app-secret', {
        mariadbCapabilities: MARIADB_CLIENT_STMT_BULK_OPERATIONS,
      }),
    ),
  );
});

test('COM_STMT_RESET and COM_STMT_FETCH cut short: directly the server reads the id past the packet; through the proxy the same or 1835, never more', async () => {
  for (const [mode, port] of t.targets()) {
    const seen = packets(await wire(port, [command(COM_STMT_RESET, bytes(1)), command(COM_STMT_FETCH, bytes(1, 0)), SELECT_1]));
    assert.equal(seen.length, 7, `${mode}: ${seen.join('\n')}`);
    for (const p of seen.slice(0, 2)) assert.match(p, /^1: .+#HY000(Unknown prepared statement handler \(\d+\) given to mysqld_stmt_(reset|fetch)|Malformed communication packet) /, mode);
  }
});

/**
 * The compute's own messages that name a statement ("The statement (N) has no open
 * cursor") name the id it gave, which in transaction mode is not the client's (README,
 * "Prepared statements in each mode"): masked.
 */
const withoutCursorIds = (ps: string[]) => ps.map((p) => (/has no open cursor/.test(p) ? 'no open cursor' : p));

test('a cursor: COM_STMT_FETCH of a statement opened with one, then reset and closed, then fetched again', async () => {
  const execute = (id: number, flags: number) => command(COM_STMT_EXECUTE, Buffer.concat([u32(id), bytes(flags), u32(1)]));
  await t.sameAsDirect(async (port) => withoutCursorIds(withoutStatementIds(packets(await wire(port, [
    command(COM_STMT_PREPARE, 'SELECT i, s FROM fid.kinds'),
    // Statement ids differ from connection to connection: -1 names the one just prepared.
    execute(LAST, 1), // CURSOR_TYPE_READ_ONLY
    command(COM_STMT_FETCH, Buffer.concat([u32(LAST), u32(1)])),
    command(COM_STMT_FETCH, Buffer.concat([u32(LAST), u32(5)])),
    command(COM_STMT_RESET, u32(LAST)),
    command(COM_STMT_FETCH, Buffer.concat([u32(LAST), u32(1)])),
    command(COM_STMT_CLOSE, u32(LAST)),
    command(COM_STMT_FETCH, Buffer.concat([u32(LAST), u32(1)])),
    SELECT_1,
  ])))));
});

/** COM_STMT_BULK_EXECUTE of statement `id`: two INT parameters' types, then rows of (indicator, value) per parameter. */
function bulk(id: number, rows: Array<[number | null, number | null]>): Buffer {
  const parts = [u32(id), u16(128), u16(3), u16(3)]; // STMT_BULK_FLAG_SEND_TYPES_TO_SERVER, MYSQL_TYPE_LONG twice
  for (const row of rows) for (const v of row) parts.push(v === null ? bytes(1) : Buffer.concat([bytes(0), u32(v)]));
  return command(COM_STMT_BULK_EXECUTE, Buffer.concat(parts));
}

test('COM_STMT_BULK_EXECUTE of a real statement (rows, NULLs, a duplicate mid-batch), of the one just prepared (id -1), and of an unknown id', async () => {
  await t.sameAsDirect(async (port) => {
    const session = withoutStatementIds(packets(
      await wire(port, [
        sql('CREATE OR REPLACE TABLE fid.bulk (a INT PRIMARY KEY, b INT)'),
        command(COM_STMT_PREPARE, 'INSERT INTO fid.bulk (a, b) VALUES (?, ?)'),
        bulk(LAST, [[1, 10], [2, null], [3, 30]]),
        bulk(LAST, [[4, 40], [1, 11], [5, 50]]),
        command(COM_STMT_PREPARE, 'UPDATE fid.bulk SET b = ? WHERE a = ?'),
        bulk(LAST, [[7, 1], [null, 2], [9, 99]]),
        bulk(99, [[7, 70]]),
        command(COM_STMT_BULK_EXECUTE, Buffer.concat([u32(LAST), u16(128), u16(3)])), // types cut short
        command(COM_STMT_EXECUTE, Buffer.concat([u32(LAST), bytes(0), u32(1), bytes(0)])), // no new-params-bound flag
        command(COM_STMT_EXECUTE, Buffer.concat([u32(LAST), bytes(0), u32(1), bytes(0, 1), u16(3)])), // types cut short
        sql('SELECT a, b FROM fid.bulk ORDER BY a'),
        SELECT_1,
      ], 'app', 'app-secret', { mariadbCapabilities: MARIADB_CLIENT_STMT_BULK_OPERATIONS }),
    ));
    return { session, next: await nextClient(port) };
  });
});

test('the mariadb connector\'s batch() (COM_STMT_BULK_EXECUTE): rows inserted, affected rows, insert ids, an error mid-batch', async () => {
  await t.sameAsDirect(async (port) => {
    const c = await mariadb.createConnection({ host: '127.0.0.1', port, user: 'app', password: 'app-secret', database: 'fid' });
    const seen: unknown[] = [];
    const step = async (run: () => Promise<unknown>) => {
      try {
        seen.push(plain(await run()));
      } catch (err) {
        const e = err as { errno?: number; sqlState?: string; sqlMessage?: string };
        seen.push({ errno: e.errno, sqlState: e.sqlState, message: e.sqlMessage });
      }
    };
    try {
      await step(() => c.query('CREATE OR REPLACE TABLE fid.batch (id INT AUTO_INCREMENT PRIMARY KEY, u INT UNIQUE, label VARCHAR(10))'));
      await step(() => c.batch('INSERT INTO fid.batch (u, label) VALUES (?, ?)', [[1, 'a'], [2, null], [3, 'c']]));
      await step(() => c.batch('INSERT INTO fid.batch (label, u) VALUES (?, ?)', [['d', 4], ['e', 5]]));
      await step(() => c.batch('INSERT INTO fid.batch (u, label) VALUES (?, ?)', [[6, 'f'], [1, 'dup'], [7, 'g']]));
      await step(() => c.batch('INSERT INTO fid.batch (u, label) VALUES (?, ?)', [[8, 'too long a label']]));
      await step(() => c.batch('UPDATE fid.batch SET label = ? WHERE u = ?', [['x', 1], ['y', 2], ['z', 99]]));
      await step(() => c.batch('INSERT INTO fid.nosuch VALUES (?)', [[1], [2]]));
      await step(() => c.query('SELECT id, u, label FROM fid.batch ORDER BY id'));
      await step(() => c.query('SELECT 1 AS one'));
    } finally {
      await c.end();
    }
    return seen;
  });
});

/** Two clients of `app` on `port`: the victim's id as the client sees it (the greeting's) and as its compute sees it. */
async function victim(port: number): Promise<{ c: mysql.Connection; id: number; computeId: number }> {
  const c = await mysql.createConnection({ host: '127.0.0.1', port, user: 'app', password: 'app-secret' });
  const [rows] = await c.query(`SELECT ${COMPUTE_THREAD_EXPR} AS raw`);
  return { c, id: c.threadId, computeId: Number((rows as Array<{ raw: number }>)[0]!.raw) };
}

/**
 * What the victim gets for its next statement: its rows, or that it failed (how the
 * driver words a killed connection depends on whether it saw the close before the query).
 */
async function victimAfter(c: mysql.Connection): Promise<unknown> {
  await new Promise((r) => setTimeout(r, 100));
  try {
    const [rows] = await c.query('SELECT 1 AS one');
    return rows;
  } catch {
    return 'killed';
  } finally {
    c.destroy();
  }
}

test('COM_PROCESS_KILL answers as KILL does, in every mode: another client\'s id, an unknown id, the compute\'s raw thread id, short and long payloads', async () => {
  const UNKNOWN = 0x7ffffff0;
  // Direct, another client's id is its thread id; through the proxy, the id it was given.
  await t.sameAsDirect(async (port) => {
    const seen: unknown[] = [];
    for (const form of ['command', 'statement', 'long command'] as const) {
      const v = await victim(port);
      const kill = form === 'statement' ? sql(`KILL ${v.id}`) : command(COM_PROCESS_KILL, form === 'command' ? u32(v.id) : Buffer.concat([u32(v.id), bytes(9, 9)]));
      seen.push({ form, killer: packets(await wire(port, [kill, SELECT_1])), victim: await victimAfter(v.c) });
    }
    seen.push({ unknown: packets(await wire(port, [command(COM_PROCESS_KILL, u32(UNKNOWN)), sql(`KILL ${UNKNOWN}`), SELECT_1])) });
    return seen;
  });
  // The compute's raw thread id: pipe mode lets it through as KILL does (the session's own
  // connection); pooled modes refuse both with 1094 (README, "Connection ids and KILL").
  for (const [mode, port] of t.targets()) {
    const seen: Array<{ killer: string[]; victim: unknown }> = [];
    for (const form of ['command', 'statement']) {
      const v = await victim(port);
      const kill = form === 'statement' ? sql(`KILL ${v.computeId}`) : command(COM_PROCESS_KILL, u32(v.computeId));
      const killer = packets(await wire(port, [kill, SELECT_1])).map((p) => p.replace(String(v.computeId), 'N').replace(/\[[0-9a-f]+\]/, ''));
      seen.push({ killer, victim: await victimAfter(v.c) });
    }
    assert.deepEqual(seen[0], seen[1], `${mode}: COM_PROCESS_KILL of the compute's thread id answers as KILL does`);
    const pooled = mode === 'session' || mode === 'transaction';
    assert.equal(seen[0]!.killer.length, 6, mode);
    assert.match(seen[0]!.killer[0]!, pooled ? /#HY000Unknown thread id: N/ : /^1: \.{7} $/, mode);
    assert.deepEqual(seen[0]!.victim, pooled ? [{ one: 1 }] : 'killed', mode);
  }
});

test('COM_PROCESS_KILL cut short: directly the server reads the id past the packet (any thread); the proxy refuses it in every mode', async () => {
  for (const [mode, port] of t.targets()) {
    if (mode === 'direct') continue;
    const seen = packets(await wire(port, [command(COM_PROCESS_KILL, bytes(1, 2)), command(COM_PROCESS_KILL), SELECT_1]));
    assert.equal(seen.length, 7, `${mode}: ${seen.join('\n')}`);
    assert.match(seen[0]!, /^1: .+#HY000wake-proxy: COM_PROCESS_KILL carries a 4-byte connection id; this one has 2 bytes/, mode);
    assert.match(seen[1]!, /^1: .+#HY000wake-proxy: COM_PROCESS_KILL carries a 4-byte connection id; this one has 0 bytes/, mode);
  }
});

test('transaction mode: another client on the same compute connection (the only one) runs on unaffected while a session sends refused and malformed commands', async () => {
  const proxy = await startProxyProcess([
    '--backend', `${t.db.host}:${t.db.port}`, '--accounts-user', READER.user, '--accounts-password', READER.password,
    '--pool-mode', 'transaction', '--pool-max-per-compute', '1',
  ]);
  // Two bare clients alike (user, database, capabilities): one pool key, so one compute connection for both.
  const login = () => wireSession({ port: proxy.port, user: Buffer.from('app'), password: 'app-secret' });
  const [a, b] = [await login(), await login()];
  try {
    assert.equal(a.outcome.kind, 'ok');
    assert.equal(b.outcome.kind, 'ok');
    const [fromA, fromB] = [a.socket, b.socket].map((socket) => {
      const received: Buffer[] = [];
      socket.on('data', (c: Buffer) => received.push(c));
      socket.resume();
      return async (n: number) => {
        for (let waited = 0; packets(Buffer.concat(received)).length < n; waited += 20) {
          assert.ok(waited < 5_000, `${n} packets expected: ${packets(Buffer.concat(received)).join('\n')}`);
          await new Promise((r) => setTimeout(r, 20));
        }
        return packets(Buffer.concat(received));
      };
    });
    const STATE = sql(`SELECT ${COMPUTE_THREAD_EXPR} AS c, @@in_transaction AS t, DATABASE() AS d`);
    b.socket.write(STATE);
    const before = await fromB!(7);
    a.socket.write(Buffer.concat([
      command(COM_REGISTER_SLAVE, registerSlave),
      command(COM_BINLOG_DUMP, binlogDump('x')),
      command(COM_BINLOG_DUMP_GTID, binlogDumpGtid),
      command(COM_SHUTDOWN),
      command(COM_PROCESS_KILL, bytes(1)),
      command(COM_STMT_RESET, u32(77)),
      command(COM_STMT_CLOSE, bytes(1)),
      command(COM_STMT_BULK_EXECUTE, Buffer.concat([u32(77), u16(0)])),
      SELECT_1,
    ]));
    const seen = await fromA!(12);
    assert.equal(seen.filter((p) => /^1: .+#/.test(p)).length, 7, seen.join('\n'));
    // The session holds nothing now: the other client gets the one connection, as it was, with no replica registered.
    b.socket.write(Buffer.concat([STATE, sql('SHOW SLAVE HOSTS')]));
    const after = await fromB!(7 + 7 + 7);
    assert.deepEqual(after.slice(7, 14), before);
    assert.equal(after.length, 21, after.join('\n')); // SHOW SLAVE HOSTS: column count, 4 definitions, EOF, no row, EOF
    a.socket.write(sql('SELECT 2'));
    assert.match((await fromA!(17))[15]!, /^4: .2 \[0132\]$/);
  } finally {
    a.socket.destroy();
    b.socket.destroy();
    await proxy.kill('SIGTERM');
  }
});
