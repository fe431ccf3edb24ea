// A client that half-closes its socket (shutdown(SHUT_WR): FIN) after its last write gets
// what MariaDB sends it: the replies to everything it sent before the FIN, then the close.
// The bytes a raw client receives are compared, directly and through the proxy in every
// mode (pipe with passthrough and with verified logins, session and transaction pooling,
// all before a static backend), over plain TCP, TLS (close_notify, then FIN) and the
// compressed protocol; then a FIN at each step of the login, where MariaDB answers what
// it has a whole login for and closes silently otherwise, and during a TLS handshake.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import {
  CLIENT_PLUGIN_AUTH,
  CLIENT_PROTOCOL_41,
  CLIENT_SECURE_CONNECTION,
  CLIENT_SSL,
  PACKET_HEADER_LENGTH,
  PacketFramer,
  UTF8MB4_GENERAL_CI,
  framePacket,
  isAuthSwitchRequest,
  writeSslRequest,
  type Greeting,
} from '../../protocol/index.js';
import type { StandaloneMariadb } from '../helpers/standalone-mariadb.js';
import { startProxyProcess, type ProxyProcess } from '../helpers/proxy-process.js';
import { MODES, startModeProxies, type ModeProxies } from '../helpers/mode-proxies.js';
import { makeCert } from '../helpers/certs.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';
import { exchange, finDuringLogin, query, type ExchangeOptions } from '../helpers/wire-exchange.js';
import { handshakeResponse } from '../helpers/wire-login.js';
import { pymysqlHalfClose } from '../helpers/clients.js';
import { appliedOnceEachWay, differencesFromDirect, pooledThread } from '../helpers/mode-comparison.js';
import { COMPUTE_THREAD_EXPR } from '../helpers/compute-thread.js';

let db: StandaloneMariadb;
let proxies: Map<string, ProxyProcess>;
let stack: ModeProxies | undefined;
/** Passthrough that greets with its own scramble and switches the client to the compute's. */
let switching: ProxyProcess | undefined;
let certs: TempDir;

before(async () => {
  certs = await makeTempDir('wake-proxy-half-close-');
  const cert = await makeCert(certs.path, 'server', 'localhost');
  stack = await startModeProxies('CREATE DATABASE q;\nCREATE TABLE q.t (v VARCHAR(40));', {
    mariadbArgs: [`--ssl-cert=${cert.certFile}`, `--ssl-key=${cert.keyFile}`],
    proxyFlags: ['--tls-cert', cert.certFile, '--tls-key', cert.keyFile],
  });
  ({ db, proxies } = stack);
  switching = await startProxyProcess(['--backend', `${db.host}:${db.port}`, '--connect-at-accept', 'false']);
});
after(async () => {
  await switching?.kill('SIGTERM');
  await stack?.stop();
  await certs?.remove();
});

interface Case {
  name: string;
  writes: (marker: string) => Array<Buffer | number>;
  /** Also over TLS and compressed (the rest run over plain TCP only). */
  everyTransport?: boolean;
}

const CASES: Case[] = [
  { name: 'a SELECT', writes: (m) => [query(`SELECT '${m}' AS v`)], everyTransport: true },
  { name: 'an INSERT', writes: (m) => [query(`INSERT INTO q.t VALUES ('${m}')`)] },
  { name: 'a statement still running at the FIN', writes: (m) => [query(`SELECT '${m}' AS v, SLEEP(0.3) AS s`)], everyTransport: true },
  {
    name: 'three statements (a transaction among them) in separate writes',
    writes: (m) => [query('BEGIN'), query(`INSERT INTO q.t VALUES ('${m}')`), query('COMMIT')],
  },
  {
    // Transaction mode follows this session's replies pinned.
    name: 'a session pinned by a user variable, then a SELECT',
    writes: (m) => [query('SET @pin = 1'), 200, query(`SELECT '${m}' AS v, SLEEP(0.1) AS s`)],
    everyTransport: true,
  },
  {
    // A command whose reply transaction pooling does not know: relayed untracked, the end fenced.
    name: 'a session pinned by a command, then a SELECT',
    writes: (m) => [
      framePacket(Buffer.from('\x02q', 'latin1'), 0), // COM_INIT_DB q
      framePacket(Buffer.from('\x04t\x00', 'latin1'), 0), // COM_FIELD_LIST t
      200,
      query(`SELECT '${m}' AS v, SLEEP(0.1) AS s`),
    ],
    everyTransport: true,
  },
  { name: 'a statement that pins, pipelined with a SELECT', writes: (m) => [Buffer.concat([query('SET @pin = 1'), query(`SELECT '${m}' AS v`)])] },
  // MariaDB drops a packet the stream ends inside, and answers nothing for it.
  { name: 'a statement cut short by the FIN', writes: (m) => [query(`SELECT '${m}'`).subarray(0, 9)] },
  { name: 'nothing after the login', writes: () => [] },
];

const TRANSPORTS: Record<string, ExchangeOptions> = {
  'plain TCP': { fin: true },
  TLS: { fin: true, tls: true },
  compressed: { fin: true, compress: true },
};

for (const [transport, options] of Object.entries(TRANSPORTS)) {
  for (const c of CASES) {
    if (transport !== 'plain TCP' && !c.everyTransport) continue;
    test(`${transport}, ${c.name}, then a FIN: the replies arrive before the close, as directly`, async () => {
      const direct = await exchange(db.port, c.writes('direct'), options);
      if (c.writes('x').length > 0 && !c.name.includes('cut short')) assert.ok(direct.length > 0, 'the server answers');
      const check = c.name.includes('INSERT') ? appliedOnceEachWay(db) : undefined;
      assert.deepEqual(await differencesFromDirect(db, proxies, c.writes, options, check), []);
    });
  }
}

test('PyMySQL, its socket shut for writing after its statement, reads its result and the close through every mode as directly', async () => {
  const sql = "SELECT 'half-closed' AS v, SLEEP(0.2) AS s";
  const direct = await pymysqlHalfClose(db.port, 'app', 'app-secret', sql);
  assert.equal(direct.code, 0, direct.stderr);
  assert.equal(direct.stdout, 'half-closed\t0\nclosed\n');
  for (const mode of Object.keys(MODES)) assert.deepEqual(await pymysqlHalfClose(proxies.get(mode)!.port, 'app', 'app-secret', sql), direct, mode);
});

test('a SLEEP() running at the FIN: pipe mode passes the FIN on and the compute cuts it short as directly; pooled, it runs to its end', async () => {
  // MariaDB checks every 5 s whether a sleeping client is still there, and takes a FIN for gone.
  const writes = [query('SELECT SLEEP(8) AS s')];
  const run = async (port: number) => {
    const started = Date.now();
    const bytes = await exchange(port, writes, { fin: true, timeoutMs: 12_000 });
    return { bytes, cut: Date.now() - started < 7_000 };
  };
  const [direct, ...viaModes] = await Promise.all([run(db.port), ...Object.keys(MODES).map((mode) => run(proxies.get(mode)!.port))]);
  assert.equal(direct!.cut, true, 'cut short directly');
  const seen = Object.fromEntries(Object.keys(MODES).map((mode, i) => [mode, { cut: viaModes[i]!.cut, sameReply: viaModes[i]!.bytes.equals(direct!.bytes) }]));
  assert.deepEqual(seen, {
    'pipe (passthrough)': { cut: true, sameReply: true },
    'pipe (verified)': { cut: true, sameReply: true },
    session: { cut: false, sameReply: true },
    transaction: { cut: false, sameReply: true },
  });
});

/** The first column of the first row of a text result set (columns, EOF, rows). */
function firstValue(reply: Buffer): string {
  const packets = new PacketFramer(1 << 24).push(reply);
  const eof = packets.findIndex((p) => p.payload[0] === 0xfe && p.payload.length < 9);
  const row = packets[eof + 1]?.payload;
  assert.ok(row, `no row in ${reply.length} bytes`);
  return row.subarray(1, 1 + row[0]!).toString();
}

async function threadAlive(id: number): Promise<boolean> {
  const c = await mysql.createConnection({ host: db.host, port: db.port, user: db.user, password: db.password });
  try {
    const [rows] = await c.query('SELECT COMMAND FROM information_schema.PROCESSLIST WHERE ID = ?', [id]);
    return (rows as unknown[]).length === 1;
  } finally {
    await c.end();
  }
}

for (const mode of ['session', 'transaction']) {
  test(`${mode} pooling: a connection whose client half-closed mid-statement is not lent while its reply is in flight, then kept`, async () => {
    const { port } = proxies.get(mode)!;
    const first = exchange(port, [query(`SELECT ${COMPUTE_THREAD_EXPR} AS id, SLEEP(0.5) AS s`)], { fin: true });
    await new Promise((r) => setTimeout(r, 100));
    // Other clients while the statement runs: none may get its connection.
    const others = await Promise.all([pooledThread(port), pooledThread(port), pooledThread(port)]);
    const thread = Number(firstValue(await first));
    assert.ok(!others.includes(thread), `lent while a reply was in flight: ${thread} in ${others.join(', ')}`);
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(await threadAlive(thread), 'the connection went back to the pool, not away');
  });
}

const app = { user: Buffer.from('app'), password: 'app-secret' };
const login = (g: Greeting, o = app) => framePacket(handshakeResponse(g, o), 1);

const LOGIN_STEPS: Record<string, (g: Greeting) => Buffer> = {
  'right after the greeting': () => Buffer.alloc(0),
  'inside the handshake response': (g) => login(g).subarray(0, 20),
  'after a whole login': (g) => login(g),
  'after a login with a wrong password': (g) => login(g, { ...app, password: 'wrong' }),
  'after a login the server switches to another plugin': (g) => framePacket(handshakeResponse(g, { ...app, plugin: 'caching_sha2_password' }), 1),
  'after a whole login and a statement': (g) => Buffer.concat([login(g), query("SELECT 'after login' AS v")]),
};

/** `bytes` with an auth switch's scramble zeroed: each server makes its own. */
function withoutScramble(bytes: Buffer): Buffer {
  const out = Buffer.from(bytes);
  let at = 0;
  for (const p of new PacketFramer(1 << 24).push(bytes)) {
    const payloadAt = at + PACKET_HEADER_LENGTH;
    if (isAuthSwitchRequest(p.payload)) out.fill(0, payloadAt + p.payload.indexOf(0, 1) + 1, payloadAt + p.payload.length);
    at = payloadAt + p.payload.length;
  }
  return out;
}

test('a FIN at each step of the login: every mode gets what MariaDB sends (OK, ERR, auth switch, nothing), then the close', async () => {
  const differences: string[] = [];
  for (const [step, then] of Object.entries(LOGIN_STEPS)) {
    // A failure names the step and the side it happened on.
    const run = (side: string, port: number) =>
      finDuringLogin(port, then).catch((err: Error) => {
        throw new Error(`${step}, ${side}: ${err.message}`);
      });
    const direct = withoutScramble(await run('directly', db.port));
    // Passthrough too: greeted with the compute's scramble (connected at accept), its login is whole as directly.
    for (const mode of Object.keys(MODES)) {
      const got = withoutScramble(await run(mode, proxies.get(mode)!.port));
      if (!got.equals(direct)) differences.push(`${step}, ${mode}: ${got.length} bytes, directly ${direct.length}`);
    }
  }
  assert.deepEqual(differences, []);
});

test('a FIN before a switched passthrough login answers the compute auth switch: closed with nothing sent (no login can follow)', async () => {
  for (const [step, then] of Object.entries(LOGIN_STEPS)) {
    // In the login's own segment: a FIN that comes later may come after the auth switch went out.
    const got = await finDuringLogin(switching!.port, then, { oneSegment: true });
    assert.equal(got.length, 0, `${step}: ${got.length} bytes`);
  }
});

test('a FIN during the TLS handshake ends the session at once, as directly (not at the handshake timeout)', async () => {
  const caps = CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH | CLIENT_SSL;
  const sslRequest = framePacket(writeSslRequest({ capabilities: caps, maxPacketSize: 1 << 24, charset: UTF8MB4_GENERAL_CI, mariadbCapabilities: 0 }), 1);
  // A TLS record header announcing a ClientHello that never comes whole.
  const cutHello = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00]);
  for (const [step, bytes] of [['after the SSLRequest', sslRequest], ['inside the ClientHello', Buffer.concat([sslRequest, cutHello])]] as const) {
    for (const port of [db.port, ...[...proxies.values()].map((p) => p.port)]) {
      const started = Date.now();
      await finDuringLogin(port, () => bytes);
      assert.ok(Date.now() - started < 2_000, `${step}, port ${port}: closed after ${Date.now() - started} ms`);
    }
  }
});
