// Passthrough logins to a static backend: the proxy connects to the compute when the
// client connects and greets the client with the compute's scramble, so the client's
// answer goes to the compute as it is, with no auth switch, as through a TCP proxy.
// Real clients log in and query (plain, compressed, over TLS); a wrong password gets
// the compute's own 1045; an ed25519 account is switched by the compute itself and the
// switch relayed; a client that sends nothing leaves no compute connection behind once
// its login times out; a compute that is down or silent gets the client the error it
// got without connecting at accept. Each check that shows "no switch" also runs against
// a proxy with --connect-at-accept off, which does switch.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import mysql from 'mysql2/promise';
import * as mariadb from 'mariadb';
import { startStandaloneMariadb, type StandaloneMariadb } from '../helpers/standalone-mariadb.js';
import { testLogger } from '../helpers/logger.js';
import { makeCert } from '../helpers/certs.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';
import { mariadbCli, pymysql } from '../helpers/clients.js';
import { wireLogin, type WireLogin } from '../helpers/wire-login.js';
import { createStaticResolver } from '../../control-client/static-resolver.js';
import { TlsContextHolder } from '../../proxy/tls-context.js';
import { startProxy, type ProxyOptions, type ProxyServer } from '../../proxy/server.js';
import { findFreePort } from '../../control-plane/drivers/free-port.js';
import { PacketFramer } from '../../protocol/index.js';

const ED_SQL = "INSTALL SONAME 'auth_ed25519';\nCREATE USER ed@'%' IDENTIFIED VIA ed25519 USING PASSWORD('ed-secret');\nGRANT ALL ON *.* TO ed@'%';";

let db: StandaloneMariadb;
let certs: TempDir;
let tls: TlsContextHolder;
/** Connects at accept (the default). */
let early: ProxyServer;
/** --connect-at-accept false: greets with its own scramble and switches. */
let switching: ProxyServer;
const proxies: ProxyServer[] = [];
const servers: Server[] = [];
const held: Socket[] = [];

before(async () => {
  certs = await makeTempDir('wake-proxy-greeting-');
  tls = new TlsContextHolder(await makeCert(certs.path, 'proxy', 'localhost'), testLogger());
  db = await startStandaloneMariadb('app', 'app-secret', ED_SQL);
  early = await proxyTo(db, { tls });
  switching = await proxyTo(db, { tls, connectAtAccept: false });
});
after(async () => {
  await Promise.all(proxies.map((p) => p.close()));
  held.forEach((h) => h.destroy());
  for (const s of servers) s.close();
  tls?.close();
  await db?.stop();
  await certs?.remove();
});

async function proxyTo(backend: { host: string; port: number }, more: Partial<ProxyOptions> = {}): Promise<ProxyServer> {
  const p = await startProxy({
    host: '127.0.0.1',
    port: 0,
    resolver: createStaticResolver({ host: backend.host, port: backend.port }),
    routing: { projectOptional: true },
    logger: testLogger(),
    ...more,
  });
  proxies.push(p);
  return p;
}

const APP: Omit<WireLogin, 'port'> = { user: Buffer.from('app'), password: 'app-secret' };

async function loginAt(port: number, o: Partial<WireLogin> = {}) {
  const switches: string[] = [];
  const outcome = await wireLogin({ ...APP, ...o, port, switches });
  return { outcome, switches };
}

test("a mysql_native_password answer to the greeting logs in with no auth switch, plain and over TLS; the switching proxy's one is the compute's", async () => {
  for (const overTls of [false, true]) {
    const o = overTls ? { tls: true } : {};
    assert.deepEqual(await loginAt(early.port, o), { outcome: { kind: 'ok' }, switches: [] }, `TLS ${overTls}`);
    assert.deepEqual(await loginAt(switching.port, o), { outcome: { kind: 'ok' }, switches: ['mysql_native_password'] }, `TLS ${overTls}`);
  }
});

test('the mariadb CLI, mysql2 (plain, compressed, TLS), the npm mariadb connector and PyMySQL log in and query', async () => {
  const cli = await mariadbCli(early.port, 'app', 'app-secret', 'SELECT CURRENT_USER()');
  assert.equal(cli.code, 0, cli.stderr);
  assert.equal(cli.stdout.trim(), 'app@%');
  const py = await pymysql(early.port, 'app', 'app-secret', 'SELECT 40 + 2');
  assert.equal(py.code, 0, py.stderr);
  assert.equal(py.stdout.trim(), '42');
  for (const extra of [{}, { compress: true }, { ssl: { rejectUnauthorized: false } }]) {
    const conn = await mysql.createConnection({ host: '127.0.0.1', port: early.port, user: 'app', password: 'app-secret', ...extra });
    const [rows] = await conn.query('SELECT 6 * 7 AS v, CONNECTION_ID() AS id');
    assert.equal((rows as Array<{ v: number }>)[0]!.v, 42, JSON.stringify(extra));
    await conn.end();
  }
  const conn = await mariadb.createConnection({ host: '127.0.0.1', port: early.port, user: 'app', password: 'app-secret' });
  assert.equal((await conn.query('SELECT 40 + 2 AS v'))[0].v, 42);
  await conn.end();
});

test("a wrong password gets the compute's own 1045, as directly, with no switch", async () => {
  const wrong = { password: 'wrong' };
  const direct = await loginAt(db.port, wrong);
  assert.equal(direct.outcome.kind, 'error');
  assert.deepEqual(await loginAt(early.port, wrong), direct);
  const cli = await mariadbCli(early.port, 'app', 'wrong', 'SELECT 1');
  assert.match(cli.stderr, /ERROR 1045 \(28000\).*Access denied for user 'app'@'127\.0\.0\.1' \(using password: YES\)/);
});

test('an ed25519 account: the compute switches the client to client_ed25519, relayed, and real clients log in', async () => {
  const ed = { user: Buffer.from('ed'), password: 'ed-secret', hangUpAtSwitch: true };
  const direct = await loginAt(db.port, ed);
  assert.deepEqual(direct, { outcome: { kind: 'hung_up', plugin: 'client_ed25519' }, switches: ['client_ed25519'] });
  assert.deepEqual(await loginAt(early.port, ed), direct);
  const cli = await mariadbCli(early.port, 'ed', 'ed-secret', 'SELECT CURRENT_USER()');
  assert.equal(cli.code, 0, cli.stderr);
  assert.equal(cli.stdout.trim(), 'ed@%');
  const conn = await mariadb.createConnection({ host: '127.0.0.1', port: early.port, user: 'ed', password: 'ed-secret' });
  assert.equal((await conn.query('SELECT CURRENT_USER() AS u'))[0].u, 'ed@%');
  await conn.end();
});

test('a client that connects and sends nothing: its compute connection goes at the login timeout, and no metric counts it', async () => {
  const impatient = await proxyTo(db, { handshakeTimeoutMs: 1_000 });
  const silent = connect({ host: '127.0.0.1', port: impatient.port });
  silent.on('error', () => {});
  const received = readAll(silent);
  assert.equal(await unauthenticatedOnCompute(1, 3_000), 1, 'a compute connection while the client is silent');
  const bytes = await received;
  const [greeting, err] = new PacketFramer(1 << 20).push(bytes);
  assert.equal(greeting?.payload[0], 10, 'a greeting first');
  assert.equal(err?.payload.readUInt16LE(1), 1043, 'then the handshake timeout');
  assert.equal(await unauthenticatedOnCompute(0, 3_000), 0, 'no compute connection once the login timed out');
  const counts = async () => {
    const text = await impatient.metrics.registry.metrics();
    return [metric(text, 'wakeproxy_wake_requests_total{outcome="ok"}'), metric(text, 'wakeproxy_connect_phase_seconds_count{phase="backend_connect"}')];
  };
  assert.deepEqual(await counts(), [0, 0]);
  // A login is counted, in the same lines.
  assert.equal((await loginAt(impatient.port)).outcome.kind, 'ok');
  assert.deepEqual(await counts(), [1, 1]);
});

test('a compute that is down, or accepts and never greets: the client gets the error it gets without connecting at accept', async () => {
  const down = { host: '127.0.0.1', port: await findFreePort() };
  const silent = await silentServer();
  for (const [what, backend] of [['down', down], ['silent', silent.addr]] as const) {
    const opts = { connectTimeoutMs: 300 };
    const on = await proxyTo(backend, opts);
    const off = await proxyTo(backend, { ...opts, connectAtAccept: false });
    let from = silent.accepted;
    const withEarly = await loginAt(on.port);
    const connectsWithEarly = silent.accepted - from;
    from = silent.accepted;
    const without = await loginAt(off.port);
    const connectsWithout = silent.accepted - from;
    assert.equal(withEarly.outcome.kind, 'error', what);
    assert.equal((withEarly.outcome as { code: number }).code, 1429, what);
    assert.deepEqual(withEarly, without, what);
    // The connect at accept was the login's first attempt, not one more.
    if (what === 'silent') assert.deepEqual([connectsWithEarly, connectsWithout], [2, 2]);
  }
});

/** Rows of unauthenticated connections on the compute, polled until there are `want` (or the time is up). */
async function unauthenticatedOnCompute(want: number, withinMs: number): Promise<number> {
  const conn = await mysql.createConnection({ host: db.host, port: db.port, user: db.user, password: db.password });
  try {
    const deadline = Date.now() + withinMs;
    for (;;) {
      const [rows] = await conn.query("SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE USER = 'unauthenticated user'");
      const n = Number((rows as Array<{ n: number }>)[0]!.n);
      if (n === want || Date.now() > deadline) return n;
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    await conn.end();
  }
}

function readAll(socket: Socket): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.once('close', () => resolve(Buffer.concat(chunks)));
  });
}

/** Accepts connections and never says a word (a frozen compute); counts them. */
async function silentServer(): Promise<{ addr: { host: string; port: number }; accepted: number }> {
  const s = { addr: { host: '127.0.0.1', port: 0 }, accepted: 0 };
  const server = createServer((socket) => {
    s.accepted++;
    held.push(socket);
    socket.on('error', () => {});
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  s.addr.port = (server.address() as AddressInfo).port;
  return s;
}

function metric(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(name));
  return line ? Number(line.split(' ').pop()) : 0;
}
