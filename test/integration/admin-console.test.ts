// The admin console with real clients (mysql2, the mariadb command line, the npm
// mariadb connector) against a transaction-pooling proxy over real computes, in one
// situation built on purpose: a session pinned by a user variable holds its compute's
// only pooled connection, a second client of that compute waits for it, and a third
// client's wake is held in flight by a control API forwarder. Each SHOW must show
// exactly that; then KILL, RELOAD and DRAIN act on it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import * as mariadb from 'mariadb';
import { startStack, type ProjectCredentials, type Stack } from '../helpers/stack.js';
import { startWakeGate, type WakeGate } from '../helpers/wake-gate.js';
import { mariadbCli } from '../helpers/clients.js';
import { installCert, makeCert, makeLiveCert, presentedCn, type CertFiles } from '../helpers/certs.js';
import { testLogger } from '../helpers/logger.js';
import { startProxyProcess } from '../helpers/proxy-process.js';
import { TlsContextHolder } from '../../proxy/tls-context.js';
import { startAdminConsole, type AdminConsole } from '../../proxy/admin-console/console-server.js';

const ADMIN = { user: 'admin', password: 'admin-secret' };

type Row = Record<string, unknown>;

describe('admin console', () => {
  let dir: string;
  let stack: Stack;
  let adminConsole: AdminConsole;
  let wakeGate: WakeGate;
  let shop: ProjectCredentials;
  let cold: ProjectCredentials;
  let tls: TlsContextHolder;
  let live: CertFiles;
  const admin = () => mysql.createConnection({ host: '127.0.0.1', port: adminConsole.port, ...ADMIN });
  const show = async (what: string): Promise<Row[]> => {
    const c = await admin();
    try {
      const [rows] = await c.query(what);
      return rows as Row[];
    } finally {
      await c.end();
    }
  };
  const client = (p: ProjectCredentials) =>
    mysql.createConnection({ host: '127.0.0.1', port: stack.proxy.port, user: `${p.project}.${p.user}`, password: p.password, ssl: undefined });
  const cli = (sql: string, extra: string[] = []) => mariadbCli(adminConsole.port, ADMIN.user, ADMIN.password, sql, extra);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wake-proxy-console-'));
    live = await makeLiveCert(dir, 'first.example');
    tls = new TlsContextHolder(live, testLogger());
    wakeGate = await startWakeGate('cold');
    stack = await startStack({
      verify: { ttlMs: 5_000, poolMode: 'transaction', poolMax: 1, poolAcquireTimeoutMs: 30_000 },
      resolverUrl: (cpUrl) => ((wakeGate.target.url = cpUrl), wakeGate.url),
      proxy: { tls },
    });
    shop = await stack.createProject('shop');
    cold = await stack.createProject('cold');
    adminConsole = await startAdminConsole({ port: 0, ...ADMIN, proxy: stack.proxy, drainTimeoutMs: 3_000, logger: stack.logger });
  });
  after(async () => {
    wakeGate?.release();
    await adminConsole?.close();
    await stack?.close();
    await wakeGate?.close();
    tls?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('logins: its own account only, 1045 otherwise, on its own port only', async () => {
    await assert.rejects(mysql.createConnection({ host: '127.0.0.1', port: adminConsole.port, user: 'admin', password: 'wrong' }), (err: any) => err.errno === 1045);
    await assert.rejects(mysql.createConnection({ host: '127.0.0.1', port: adminConsole.port, user: 'root', password: ADMIN.password }), (err: any) => err.errno === 1045);
    const wrong = await mariadbCli(adminConsole.port, 'admin', 'wrong', 'SHOW CLIENTS');
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /ERROR 1045 .*Access denied for user 'admin'/);
    // A compute account is not the console's, and the console's is not a compute's.
    await assert.rejects(mysql.createConnection({ host: '127.0.0.1', port: adminConsole.port, user: `shop.${shop.user}`, password: shop.password }), (err: any) => err.errno === 1045);
    await assert.rejects(mysql.createConnection({ host: '127.0.0.1', port: stack.proxy.port, ...ADMIN }), (err: any) => err.errno === 1045);
    assert.equal(adminConsole.host, '127.0.0.1');
  });

  test("what clients send at connect: the CLI's version comment and status, the mariadb connector's SET NAMES and queries", async () => {
    const comment = await cli('select @@version_comment limit 1');
    assert.equal(comment.code, 0, comment.stderr);
    assert.match(comment.stdout, /wake-proxy admin console/);
    const status = await cli('status');
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /Current user:\s+admin@127\.0\.0\.1/);
    const conn = await mariadb.createConnection({ host: '127.0.0.1', port: adminConsole.port, ...ADMIN });
    try {
      await conn.query('SET NAMES utf8mb4');
      const help = (await conn.query('SHOW HELP')) as Row[];
      assert.ok(help.some((r) => r.statement === 'SHOW CLIENTS'));
      const bad = await conn.query('SELECT * FROM clients').then(() => null, (err: any) => err.errno);
      assert.equal(bad, 1064);
    } finally {
      await conn.end();
    }
    const unknown = await cli('SHOW TABLES');
    assert.match(unknown.stderr, /ERROR 1064 .*unknown statement 'SHOW TABLES'; it knows SHOW CLIENTS, SHOW POOLS/);
  });

  test('a pinned session, a client waiting for its connection and a wake in flight, as each SHOW shows them; KILL frees the connection', async () => {
    const pinned = await client(shop);
    await pinned.query('SELECT @cart := 1');
    const waiting = client(shop);
    const waking = client(cold);
    let clients: Row[] = [];
    for (let i = 0; i < 200; i++) {
      clients = await show('SHOW CLIENTS');
      if (clients.length === 3 && clients.some((r) => r.state === 'waiting_for_connection') && clients.some((r) => r.state === 'waiting_for_wake')) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const byState = new Map(clients.map((r) => [r.state, r]));
    const pinnedRow = byState.get('pinned');
    assert.ok(pinnedRow, JSON.stringify(clients));
    assert.equal(pinnedRow.id, pinned.threadId);
    assert.deepEqual(
      { project: pinnedRow.project, user: pinnedRow.user, mode: pinnedRow.mode, pin: pinnedRow.pin_reason, tls: pinnedRow.tls, compute: pinnedRow.compute },
      { project: 'shop', user: shop.user, mode: 'transaction', pin: 'user_variable', tls: 0, compute: shop.computeId },
    );
    assert.ok(Number(pinnedRow.bytes_in) > 0 && Number(pinnedRow.bytes_out) > 0);
    assert.deepEqual({ project: byState.get('waiting_for_connection')?.project, pin: byState.get('waiting_for_connection')?.pin_reason }, { project: 'shop', pin: null });
    assert.deepEqual({ project: byState.get('waiting_for_wake')?.project, compute: byState.get('waiting_for_wake')?.compute }, { project: 'cold', compute: null });

    const pools = await show('SHOW POOLS');
    const shopPool = pools.find((r) => r.compute === shop.computeId);
    assert.ok(shopPool, JSON.stringify(pools));
    assert.deepEqual(
      { user: shopPool.user, max: shopPool.max, open: shopPool.open, in_use: shopPool.in_use, idle: shopPool.idle, waiting: shopPool.waiting, pinned: shopPool.pinned, reasons: shopPool.pin_reasons },
      { user: shop.user, max: 1, open: 1, in_use: 1, idle: 0, waiting: 1, pinned: 1, reasons: 'user_variable=1' },
    );
    assert.equal(pools.find((r) => r.compute === cold.computeId), undefined, 'nothing is pooled for the compute still waking');

    const projects = new Map((await show('SHOW PROJECTS')).map((r) => [r.project, r]));
    assert.deepEqual(
      { clients: projects.get('cold')?.clients, waiting: projects.get('cold')?.waiting_for_wake, wakes: projects.get('cold')?.wakes_in_flight, address: projects.get('cold')?.address },
      { clients: 1, waiting: 1, wakes: 1, address: null },
    );
    assert.ok(Number(projects.get('cold')?.wake_s) > 0);
    assert.deepEqual({ clients: projects.get('shop')?.clients, waiting: projects.get('shop')?.waiting_for_wake, wakes: projects.get('shop')?.wakes_in_flight }, { clients: 2, waiting: 0, wakes: 0 });
    assert.equal(projects.get('shop')?.compute, shop.computeId);

    const stats = new Map((await show('SHOW STATS')).map((r) => [r.name, r]));
    assert.equal(stats.get('clients_waiting_for_wake')?.total, 1);
    assert.equal(stats.get('clients_active')?.total, 3);
    assert.equal(stats.get('pins.user_variable')?.total, 1);

    // The same through the command line and the mariadb connector.
    const viaCli = await cli('SHOW CLIENTS');
    assert.equal(viaCli.code, 0, viaCli.stderr);
    assert.match(viaCli.stdout, new RegExp(`^${pinned.threadId}\\tshop\\t${shop.user}\\t127\\.0\\.0\\.1:\\d+\\t0\\ttransaction\\tpinned\\tuser_variable\\t`, 'm'));
    assert.match(viaCli.stdout, /\tcold\t.*\twaiting_for_wake\tNULL\t/);
    const poolsCli = await cli('SHOW POOLS');
    assert.match(poolsCli.stdout, new RegExp(`^${shop.computeId}\\t[\\d.:]+\\t${shop.user}\\t1\\t1\\t1\\t0\\t1\\t1\\tuser_variable=1$`, 'm'));
    const connector = await mariadb.createConnection({ host: '127.0.0.1', port: adminConsole.port, ...ADMIN });
    const projectsViaConnector = (await connector.query('SHOW PROJECTS')) as Row[];
    await connector.end();
    assert.equal(projectsViaConnector.find((r) => r.project === 'cold')?.wakes_in_flight, 1n);

    // KILL the pinned session: it goes, its connection with it, and the waiting client gets one.
    const gone = new Promise<void>((r) => pinned.once('error', () => r()));
    const killer = await admin();
    const [killed] = (await killer.query(`KILL ${pinned.threadId}`)) as any;
    assert.equal(killed.affectedRows, 1);
    await assert.rejects(killer.query(`KILL ${pinned.threadId}`), (err: any) => err.errno === 1094);
    await killer.end();
    await gone;
    const next = await waiting;
    const [[row]] = (await next.query('SELECT 40 + 2 AS v')) as any;
    assert.equal(row.v, 42);
    await next.end();

    // Release the wake: the held client is served.
    wakeGate.release();
    const woken = await waking;
    const [[one]] = (await woken.query('SELECT 1 AS v')) as any;
    assert.equal(one.v, 1);
    await woken.end();
    const after = new Map((await show('SHOW PROJECTS')).map((r) => [r.project, r]));
    assert.equal(after.get('cold')?.wakes_in_flight, 0);
    assert.equal(after.get('cold')?.compute, cold.computeId);
  });

  test('KILL of a session mid-statement stops its statement on the compute, as when its client vanishes', async () => {
    const victim = await client(shop);
    const running = victim.query('SELECT SLEEP(30)').then(
      () => 'finished',
      (err: any) => err.code ?? 'error',
    );
    await new Promise((r) => setTimeout(r, 300));
    const c = await stack.compute(shop.computeId);
    const direct = await mysql.createConnection({ host: c.host, port: c.port, user: shop.user, password: shop.password });
    const sleeping = async () => {
      const [[r]] = (await direct.query("SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE INFO LIKE 'SELECT SLEEP(30)%'")) as any;
      return Number(r.n);
    };
    assert.equal(await sleeping(), 1);
    const killer = await admin();
    await killer.query(`KILL CONNECTION ${victim.threadId}`);
    await killer.end();
    assert.notEqual(await running, 'finished');
    let n = 1;
    for (let i = 0; i < 40 && n > 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
      n = await sleeping();
    }
    await direct.end();
    assert.equal(n, 0, 'the statement was stopped on the compute');
  });

  test('RELOAD loads the TLS files again; a bad pair is refused and the certificate in use stays', async () => {
    assert.equal(await presentedCn(stack.proxy.port), 'first.example');
    await installCert(await makeCert(dir, 'second', 'second.example'), live);
    const ok = await cli('RELOAD');
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(await presentedCn(stack.proxy.port), 'second.example');
    await writeFile(live.certFile, 'not a certificate');
    const bad = await cli('RELOAD');
    assert.match(bad.stderr, /ERROR 1105 .*TLS reload failed, the previous certificate stays in use/);
    assert.equal(await presentedCn(stack.proxy.port), 'second.example');
  });

  test('DRAIN: no new clients, sessions finish, the proxy and its console stay up', async () => {
    const staying = await client(shop);
    const drained = await cli('DRAIN');
    assert.equal(drained.code, 0, drained.stderr);
    assert.equal(stack.proxy.ready, false);
    await assert.rejects(client(shop), (err: any) => err.code === 'ECONNREFUSED');
    // A session open before the drain may finish what it does.
    const [[row]] = (await staying.query('SELECT 7 AS v')) as any;
    assert.equal(row.v, 7);
    await staying.end();
    const again = await cli('DRAIN');
    assert.equal(again.code, 0, again.stderr);
    const clients = await show('SHOW CLIENTS');
    assert.deepEqual(clients, []);
  });
});

describe('admin console flags', () => {
  /** The console's address, from its log line (it starts right after the client port). */
  async function consoleAddress(lines: string[]): Promise<{ host: string; port: number; user: string }> {
    for (let i = 0; i < 100; i++) {
      for (const line of lines) {
        const rec = JSON.parse(line) as { msg?: string; host?: string; port?: number; user?: string };
        if (rec.msg === 'admin console listening') return { host: rec.host!, port: rec.port!, user: rec.user! };
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`no "admin console listening" line: ${lines.join('\n')}`);
  }

  test('off by default; on loopback when on, its password from the environment, not reachable on another address', async () => {
    const plain = await startProxyProcess(['--backend', '127.0.0.1:1']);
    await plain.kill('SIGTERM');
    assert.ok(!plain.lines.some((l) => l.includes('admin console')), 'no console without --admin-mysql-port');

    const proxy = await startProxyProcess(['--backend', '127.0.0.1:1', '--admin-mysql-port', '0'], {
      env: { WAKE_PROXY_ADMIN_MYSQL_PASSWORD: 'from-env', WAKE_PROXY_ADMIN_MYSQL_USER: 'ops' },
    });
    try {
      const at = await consoleAddress(proxy.lines);
      assert.deepEqual({ host: at.host, user: at.user }, { host: '127.0.0.1', user: 'ops' });
      const ok = await mariadbCli(at.port, 'ops', 'from-env', 'SHOW CLIENTS');
      assert.equal(ok.code, 0, ok.stderr);
      const wrong = await mariadbCli(at.port, 'admin', 'from-env', 'SHOW CLIENTS');
      assert.match(wrong.stderr, /ERROR 1045/);
      // Any address of this machine but loopback finds nothing listening there.
      const other = Object.values(networkInterfaces())
        .flat()
        .find((a) => a && a.family === 'IPv4' && !a.internal);
      if (other) {
        await assert.rejects(mysql.createConnection({ host: other.address, port: at.port, user: 'ops', password: 'from-env', connectTimeout: 3_000 }), (err: any) =>
          ['ECONNREFUSED', 'ETIMEDOUT'].includes(err.code),
        );
      }
      // The client port is not the console: its account goes to the compute like any login (here: none answers).
      await assert.rejects(mysql.createConnection({ host: '127.0.0.1', port: proxy.port, user: 'ops', password: 'from-env' }), (err: any) => err.errno === 1429);
    } finally {
      await proxy.kill('SIGTERM');
    }
  });

  test('--admin-mysql-port without a password refuses to start', async () => {
    await assert.rejects(startProxyProcess(['--backend', '127.0.0.1:1', '--admin-mysql-port', '0']), /--admin-mysql-port needs --admin-mysql-password/);
  });
});
