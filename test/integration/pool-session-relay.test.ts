// Session pooling end to end with real clients: a small proxy made of the pool parts
// (verify the client against a verifier, acquire a pooled backend, relay, release) in
// front of a real mariadbd. It is the shape the proxy session takes in session mode.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import mysql from 'mysql2/promise';
import mysqlCallbacks from 'mysql2';
import {
  SERVER_STATUS_AUTOCOMMIT,
  generateScramble,
  nativePasswordVerifier,
  nativePasswordStage1,
  parseHandshakeResponse,
  writeErrPacket,
  writeGreeting,
  writeOkPacket,
  CLIENT_PROTOCOL_41,
} from '../../protocol/index.js';
import { GreetingProfile } from '../../proxy/greeting-profile.js';
import { PacketChannel } from '../../socket/packet-channel.js';
import { verifyAuthSwitchResponse, verifyClient } from '../../proxy/verified-auth.js';
import { loginBackend, nativeLogin, poolCapabilities, type LoggedInBackend } from '../../backend/login.js';
import { createBackendPools, type BackendPools } from '../../pool/backend-pool.js';
import { relaySession, type SessionOutcome } from '../../relay/session-relay.js';
import { startStandaloneMariadb, type StandaloneMariadb } from '../helpers/standalone-mariadb.js';
import { mariadbCli, pymysql } from '../helpers/clients.js';
import { testLogger } from '../helpers/logger.js';
import { exec, keyFor, scalar, waitFor } from './pool-support.js';

const PASSWORDS: Record<string, string> = { app: 'app-secret', other: 'other-secret' };

let db: StandaloneMariadb;
let admin: LoggedInBackend;
let pools: BackendPools;
let proxy: Server;
let port: number;
const outcomes: SessionOutcome[] = [];
const adminTarget = () => ({ socket: admin.socket, capabilities: keyFor(db).capabilities, mariadbCapabilities: 0 });

/** One client: greet, verify, acquire, OK, relay, release. */
async function serve(socket: import('node:net').Socket, id: number): Promise<void> {
  const profile = new GreetingProfile();
  const client = new PacketChannel(socket, 'client', 64 * 1024);
  const scramble = generateScramble();
  client.write(writeGreeting(profile.greeting(id, scramble)), 0);
  const hello = parseHandshakeResponse((await client.read(5_000, 'handshake response')).payload);
  const password = PASSWORDS[hello.user];
  const verifier = nativePasswordVerifier(password ?? 'no such user');
  let verdict = verifyClient(hello, scramble, verifier);
  if (!verdict.ok && verdict.switchRequired) {
    client.write(verdict.authSwitchRequest, client.nextSequenceId);
    verdict = verifyAuthSwitchResponse((await client.read(5_000, 'auth switch response')).payload, scramble, verifier);
  }
  if (!verdict.ok || password === undefined) {
    const err = { code: 1045, sqlState: '28000', message: `Access denied for user '${hello.user}'` };
    client.write(writeErrPacket(err, CLIENT_PROTOCOL_41), client.nextSequenceId);
    socket.end();
    return;
  }
  const key = keyFor(db, {
    user: hello.user,
    database: hello.database,
    capabilities: poolCapabilities(hello.capabilities & profile.capabilities, hello.database),
    mariadbCapabilities: hello.mariadbCapabilities & profile.mariadbCapabilities,
    charset: hello.charset,
  });
  const backend = await pools.acquire(key, nativeLogin(verdict.stage1, { timeoutMs: 5_000 }));
  const ok = { affectedRows: 0, lastInsertId: 0, statusFlags: SERVER_STATUS_AUTOCOMMIT, warnings: 0, info: '' };
  client.write(writeOkPacket(ok, key.capabilities), client.nextSequenceId);
  const outcome = await relaySession(socket, client.detach(), backend);
  await pools.release(backend, { dirty: !outcome.reusable });
  outcomes.push(outcome);
}

before(async () => {
  db = await startStandaloneMariadb(
    'app',
    'app-secret',
    "CREATE USER other@'%' IDENTIFIED BY 'other-secret';\nGRANT ALL ON shop.* TO other@'%';",
  );
  admin = await loginBackend(keyFor(db), nativePasswordStage1('app-secret'), { timeoutMs: 5_000 });
  for (const sql of ['CREATE DATABASE shop', 'CREATE TABLE shop.orders (id INT PRIMARY KEY)']) {
    await exec(adminTarget(), sql);
  }
  pools = createBackendPools({ maxPerCompute: 8, idleTimeoutMs: 60_000, acquireTimeoutMs: 5_000, logger: testLogger() });
  let ids = 0;
  // Half-open, as the proxy's listener: a client's FIN ends what it sends, not what it reads.
  proxy = createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('error', () => {});
    serve(socket, ++ids).catch(() => socket.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  port = (proxy.address() as { port: number }).port;
});

after(async () => {
  await new Promise<void>((resolve) => proxy.close(() => resolve()));
  await pools.close();
  admin?.socket.destroy();
  await db?.stop();
});

const connect = (user = 'app', password = PASSWORDS[user]!) =>
  mysql.createConnection({ host: '127.0.0.1', port, user, password, database: 'shop' });

/** The outcome of the next session to end. */
async function nextOutcome(): Promise<SessionOutcome> {
  const seen = outcomes.length;
  await waitFor('the session to end', () => outcomes.length > seen);
  return outcomes[seen]!;
}

test('mysql2: a client that quits gives its backend, reset, to the next client', async () => {
  const first = await connect();
  const [[row]] = (await first.query('SELECT CONNECTION_ID() AS id')) as unknown as [[{ id: number }]];
  await first.query('SET @left_behind = 1');
  const ended = nextOutcome();
  await first.end();
  assert.deepEqual(await ended, { end: 'client_quit', reusable: true, changedUser: false, commands: 2, forwarded: true, statementRunning: false });

  const second = await connect();
  const [[again]] = (await second.query('SELECT CONNECTION_ID() AS id, @left_behind AS v')) as unknown as [
    [{ id: number; v: unknown }],
  ];
  assert.equal(again.id, row.id, 'same backend connection');
  assert.equal(again.v, null, 'no state from the previous client');
  const next = nextOutcome();
  await second.end();
  await next;
});

test('mysql2: a client that vanishes mid-transaction gets its backend destroyed, its insert rolled back', async () => {
  const c = await connect();
  const [[{ id }]] = (await c.query('SELECT CONNECTION_ID() AS id')) as unknown as [[{ id: number }]];
  await c.query('START TRANSACTION');
  await c.query('INSERT INTO orders VALUES (7)');
  const ended = nextOutcome();
  // Gone for good: its connection resets (a FIN alone is a goodbye like COM_QUIT: see the next test).
  (c as any).connection.stream.resetAndDestroy();
  const outcome = await ended;
  assert.equal(outcome.end, 'client_error');
  assert.equal(outcome.reusable, false);
  await waitFor('the backend thread to end', async () =>
    (await scalar(adminTarget(), `SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = ${id}`)) === '0',
  );
  const d = await connect();
  const [[row]] = (await d.query('SELECT CONNECTION_ID() AS id, (SELECT COUNT(*) FROM orders) AS n')) as unknown as [
    [{ id: number; n: number }],
  ];
  assert.notEqual(row.id, id);
  assert.equal(Number(row.n), 0);
  const next = nextOutcome();
  await d.end();
  await next;
});

test('mysql2: a client that leaves with a FIN mid-transaction has said goodbye: its backend is reset before the next client, its insert rolled back', async () => {
  const c = await connect();
  await c.query('START TRANSACTION');
  await c.query('INSERT INTO orders VALUES (8)');
  const ended = nextOutcome();
  c.destroy(); // a FIN, nothing unread: it may still be reading, as after a shutdown(SHUT_WR)
  const outcome = await ended;
  assert.equal(outcome.end, 'client_quit');
  assert.equal(outcome.reusable, true);
  const d = await connect();
  const [[row]] = (await d.query('SELECT (SELECT COUNT(*) FROM orders) AS n, @@in_transaction AS tx')) as unknown as [[{ n: number; tx: number }]];
  assert.equal(Number(row.n), 0);
  assert.equal(Number(row.tx), 0);
  const next = nextOutcome();
  await d.end();
  await next;
});

test('mysql2: a client that leaves in the middle of a large result set does not hand on a busy backend', async () => {
  const c = mysqlCallbacks.createConnection({ host: '127.0.0.1', port, user: 'app', password: 'app-secret', database: 'shop' });
  c.on('error', () => {});
  const id = await new Promise<number>((resolve, reject) =>
    c.query('SELECT CONNECTION_ID() AS id', (err, rows) => (err ? reject(err) : resolve((rows as Array<{ id: number }>)[0]!.id))),
  );
  const ended = nextOutcome();
  const big = 'SELECT REPEAT("x", 1000) FROM information_schema.COLUMNS a, information_schema.COLUMNS b LIMIT 200000';
  const stream = c.query(big).stream();
  await new Promise<void>((resolve) => stream.once('data', () => resolve()));
  (c as any).stream.resetAndDestroy();
  assert.equal((await ended).reusable, false);
  const d = await connect();
  const [[row]] = (await d.query('SELECT CONNECTION_ID() AS id')) as unknown as [[{ id: number }]];
  assert.notEqual(row.id, id);
  const next = nextOutcome();
  await d.end();
  await next;
});

test("mysql2: the client's COM_RESET_CONNECTION and COM_CHANGE_USER work through the relay", async () => {
  const c = await connect();
  await c.query('SET @v = 5');
  await c.reset();
  const [[afterReset]] = (await c.query('SELECT @v AS v')) as unknown as [[{ v: unknown }]];
  assert.equal(afterReset.v, null);
  await c.changeUser({ user: 'other', password: 'other-secret', database: 'shop' });
  const [[who]] = (await c.query('SELECT CURRENT_USER() AS u')) as unknown as [[{ u: string }]];
  assert.equal(who.u, 'other@%');
  const ended = nextOutcome();
  await c.end();
  // Logged in as someone else now: never back into the pool of 'app'.
  assert.deepEqual(await ended, { end: 'client_quit', reusable: false, changedUser: true, commands: 5, forwarded: true, statementRunning: false });

  const wrong = await connect();
  await assert.rejects(wrong.changeUser({ user: 'other', password: 'nope' }), (err: { errno?: number }) => err.errno === 1045);
  wrong.destroy();
  assert.equal((await nextOutcome()).reusable, false);
});

test('the mariadb CLI and PyMySQL share pooled backends across their connections', async () => {
  const ids: string[] = [];
  for (let i = 0; i < 2; i++) {
    const ended = nextOutcome();
    const r = await mariadbCli(port, 'app', 'app-secret', 'SELECT CONNECTION_ID(); SET @x = 1', ['shop']);
    assert.equal(r.code, 0, r.stderr);
    ids.push(r.stdout.trim());
    assert.equal((await ended).end, 'client_quit');
  }
  assert.equal(ids[0], ids[1], 'the second CLI run got the first one\'s backend');
  const py: string[] = [];
  for (let i = 0; i < 2; i++) {
    const ended = nextOutcome();
    const r = await pymysql(port, 'app', 'app-secret', 'SELECT CONNECTION_ID()');
    assert.equal(r.code, 0, r.stderr);
    py.push(r.stdout.trim());
    assert.equal((await ended).reusable, true);
  }
  assert.equal(py[0], py[1]);
});

test('a wrong password is refused before any backend is touched', async () => {
  const before = pools.stats().total.open;
  await assert.rejects(connect('app', 'wrong'), (err: { errno?: number }) => err.errno === 1045);
  assert.equal(pools.stats().total.open, before);
});
