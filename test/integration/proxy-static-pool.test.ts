// A static backend with pooling: the proxy reads the backend's own accounts through an
// account it is given (--accounts-user), checks passwords itself, and pools.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import { startStandaloneMariadb, type StandaloneMariadb } from '../helpers/standalone-mariadb.js';
import { READER, READER_SQL } from '../helpers/mode-proxies.js';
import { testLogger } from '../helpers/logger.js';
import { createBackendAccountVerifiers } from '../../control-client/backend-account-verifiers.js';
import { startProxyProcess, type ProxyProcess } from '../helpers/proxy-process.js';
import { pymysql } from '../helpers/clients.js';
import { COMPUTE_THREAD } from '../helpers/compute-thread.js';


let db: StandaloneMariadb;
let proxy: ProxyProcess;

before(async () => {
  db = await startStandaloneMariadb('app', 'app-secret', `${READER_SQL}\nGRANT ALL ON *.* TO 'app'@'%' WITH GRANT OPTION;`);
  proxy = await startProxyProcess([
    '--backend', `${db.host}:${db.port}`,
    '--accounts-user', 'reader',
    '--accounts-password', 'reader-secret',
    '--pool-mode', 'transaction',
  ]);
});
after(async () => {
  await proxy?.kill('SIGTERM');
  await db?.stop();
});

function viaProxy(user: string, password: string) {
  return mysql.createConnection({ host: '127.0.0.1', port: proxy.port, user, password });
}

async function backendStatus(name: string): Promise<number> {
  const c = await mysql.createConnection({ host: db.host, port: db.port, user: db.user, password: db.password });
  try {
    const [rows] = await c.query('SHOW GLOBAL STATUS LIKE ?', [name]);
    return Number((rows as any[])[0].Value);
  } finally {
    await c.end();
  }
}

test('a wrong password is refused by the proxy; the backend never sees it', async () => {
  const denied = await backendStatus('Access_denied_errors');
  await assert.rejects(viaProxy('app', 'wrong'), (e: any) => e.errno === 1045);
  await assert.rejects(viaProxy('nobody', 'x'), (e: any) => e.errno === 1045);
  assert.equal(await backendStatus('Access_denied_errors'), denied);
});

test('connected clients take turns on one pooled backend connection', async () => {
  const [a, b] = await Promise.all([viaProxy('app', 'app-secret'), viaProxy('app', 'app-secret')]);
  const ids = new Set<number>();
  for (const c of [a, b, a, b]) {
    const [rows] = await c.query(COMPUTE_THREAD);
    ids.add((rows as any[])[0].id);
  }
  assert.equal(ids.size, 1);
  await Promise.all([a.end(), b.end()]);
  assert.ok(!(await proxy.settledLines()).some((l) => l.includes('reader-secret') || l.includes('app-secret')), 'no password in the log');
});

test('a user made with SQL, or a changed password, works within a quarter second', async () => {
  const admin = await viaProxy('app', 'app-secret');
  await admin.query("CREATE USER 'fresh'@'%' IDENTIFIED BY 'first'");
  await new Promise((r) => setTimeout(r, 300));
  const fresh = await viaProxy('fresh', 'first');
  await fresh.end();
  await admin.query("ALTER USER 'fresh'@'%' IDENTIFIED BY 'second'");
  await new Promise((r) => setTimeout(r, 300));
  const changed = await viaProxy('fresh', 'second');
  await changed.end();
  await assert.rejects(viaProxy('fresh', 'first'), (e: any) => e.errno === 1045);
  const py = await pymysql(proxy.port, 'fresh', 'second', 'SELECT 6 * 7');
  assert.equal(py.code, 0, py.stderr);
  assert.equal(py.stdout.trim(), '42');
  await admin.end();
});

test('users made with SQL work at once, however quickly one follows another (a login waits for the next read)', async () => {
  const admin = await viaProxy('app', 'app-secret');
  try {
    for (let i = 0; i < 5; i++) {
      // No pause: each login comes well within the quarter second reads are spaced by.
      await admin.query(`CREATE USER 'quick${i}'@'%' IDENTIFIED BY 'q${i}'`);
      const conn = await viaProxy(`quick${i}`, `q${i}`);
      const [rows] = await conn.query('SELECT CURRENT_USER() AS u');
      assert.equal((rows as any[])[0].u, `quick${i}@%`);
      await conn.end();
      await admin.query(`ALTER USER 'quick${i}'@'%' IDENTIFIED BY 'changed${i}'`);
      await (await viaProxy(`quick${i}`, `changed${i}`)).end();
    }
  } finally {
    await admin.end();
  }
});

test('an account more specific than % is chosen as the backend chooses it', async () => {
  const admin = await viaProxy('app', 'app-secret');
  try {
    await admin.query("CREATE USER 'pick'@'%' IDENTIFIED BY 'any'");
    await admin.query("CREATE USER 'pick'@'127.0.0.1' IDENTIFIED BY 'local'");
    const direct = await mysql.createConnection({ host: db.host, port: db.port, user: 'pick', password: 'local' });
    const [d] = await direct.query('SELECT CURRENT_USER() AS u');
    await direct.end();
    const conn = await viaProxy('pick', 'local');
    const [p] = await conn.query('SELECT CURRENT_USER() AS u');
    await conn.end();
    assert.equal((p as any[])[0].u, (d as any[])[0].u);
    assert.equal((p as any[])[0].u, 'pick@127.0.0.1');
    await assert.rejects(viaProxy('pick', 'any'), (e: any) => e.errno === 1045 && e.message === "Access denied for user 'pick'@'127.0.0.1' (using password: YES)");
  } finally {
    await admin.query("DROP USER IF EXISTS 'pick'@'%'").catch(() => {});
    await admin.end();
  }
});

test('a view or routine created through the proxy has the logged-in account as its definer, as directly', async () => {
  const admin = await mysql.createConnection({ host: db.host, port: db.port, user: db.user, password: db.password });
  try {
    await admin.query("CREATE USER 'maker'@'127.0.0.1' IDENTIFIED BY 'mk'");
    await admin.query("GRANT ALL ON defs.* TO 'maker'@'127.0.0.1'");
    await admin.query('CREATE DATABASE IF NOT EXISTS defs');
    const conn = await viaProxy('maker', 'mk');
    await conn.query('CREATE VIEW defs.v AS SELECT 1 AS one');
    await conn.query('CREATE PROCEDURE defs.p() SELECT 2');
    const [[me]] = (await conn.query('SELECT CURRENT_USER() AS u')) as any;
    await conn.end();
    const [[view]] = (await admin.query("SELECT DEFINER AS d FROM information_schema.VIEWS WHERE TABLE_SCHEMA = 'defs' AND TABLE_NAME = 'v'")) as any;
    const [[proc]] = (await admin.query("SELECT DEFINER AS d FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = 'defs' AND ROUTINE_NAME = 'p'")) as any;
    assert.equal(me.u, 'maker@127.0.0.1');
    assert.equal(view.d, me.u);
    assert.equal(proc.d, me.u);
  } finally {
    await admin.end();
  }
});

test("a reader that may not list the backend's stored code: every transaction-pooled session pins at its first statement, said once", async () => {
  const admin = await mysql.createConnection({ host: db.host, port: db.port, user: db.user, password: db.password });
  await admin.query("CREATE USER 'reader_old'@'%' IDENTIFIED BY 'old-secret'");
  await admin.query("GRANT SELECT ON mysql.global_priv TO 'reader_old'@'%'");
  await admin.end();
  const old = await startProxyProcess(['--backend', `${db.host}:${db.port}`, '--accounts-user', 'reader_old', '--accounts-password', 'old-secret', '--pool-mode', 'transaction']);
  try {
    const clients = [];
    for (let i = 0; i < 3; i++) {
      const c = await mysql.createConnection({ host: '127.0.0.1', port: old.port, user: 'app', password: 'app-secret' });
      clients.push(c);
      await c.query('SELECT 1');
    }
    // Pinned: each client keeps its own compute connection while the others are connected.
    const ids = new Set<number>();
    for (const c of clients) ids.add(Number(((await c.query(COMPUTE_THREAD))[0] as any[])[0].id));
    assert.equal(ids.size, 3);
    await Promise.all(clients.map((c) => c.end()));
    const pinned = await old.records((r) => r.msg === 'session pinned to its backend' && r.reason === 'stored_code_unknown', 3);
    assert.equal(pinned.length, 3);
    const records = old.lines.map((l) => JSON.parse(l) as { msg: string });
    assert.equal(records.filter((r) => /stored code is not known/.test(r.msg)).length, 1, 'said once');
  } finally {
    await old.kill('SIGTERM');
  }
});

test('the accounts read last answer a login at once while fresh; an unknown name or an old read asks again', async () => {
  const verifiers = createBackendAccountVerifiers({ backend: { host: db.host, port: db.port }, login: READER, ttlMs: 400, logger: testLogger() });
  try {
    assert.equal(verifiers.cached!('', 'app'), undefined, 'nothing read yet');
    const read = await verifiers.get('', 'app', new AbortController().signal);
    const kept = verifiers.cached!('', 'app');
    assert.ok(kept && kept.candidates.some((a) => a.user === 'app'));
    assert.equal(kept, verifiers.cached!('', 'app'), 'built once per read');
    assert.deepEqual(kept, read);
    // A name the read did not have may have been made since: get() reads again, so cached() must not answer it.
    assert.equal(verifiers.cached!('', 'made_later'), undefined);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(verifiers.cached!('', 'app'), undefined, 'past its TTL');
    await verifiers.refresh('', 'app', new AbortController().signal);
    assert.notEqual(verifiers.cached!('', 'app'), kept, 'a new read builds new answers');
  } finally {
    await verifiers.close();
  }
});
