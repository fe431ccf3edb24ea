// A pooled compute connection never outlives a change of its account: after DROP USER
// and CREATE USER on another host, REVOKE, or ACCOUNT LOCK, a new login through a
// pooling proxy gets what a direct login gets (identity, privileges, refusal), once
// the proxy has read the change (here within --verifier-ttl 100ms).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import { startStandaloneMariadb, type StandaloneMariadb } from '../helpers/standalone-mariadb.js';
import { READER_SQL } from '../helpers/mode-proxies.js';
import { startProxyProcess, type ProxyProcess } from '../helpers/proxy-process.js';
import { mariadbCli } from '../helpers/clients.js';

let db: StandaloneMariadb;
const proxies: Record<string, ProxyProcess> = {};
const MODES = ['session', 'transaction'] as const;

before(async () => {
  db = await startStandaloneMariadb('app', 'app-secret', `${READER_SQL}\nGRANT ALL ON *.* TO 'app'@'%' WITH GRANT OPTION;`);
  for (const mode of MODES) {
    proxies[mode] = await startProxyProcess([
      '--backend', `${db.host}:${db.port}`,
      '--accounts-user', 'reader',
      '--accounts-password', 'reader-secret',
      '--pool-mode', mode,
      '--verifier-ttl', '100ms',
    ]);
  }
});
after(async () => {
  for (const p of Object.values(proxies)) await p.kill('SIGTERM');
  await db?.stop();
});

async function asAdmin(sql: string): Promise<void> {
  const c = await mysql.createConnection({ host: db.host, port: db.port, user: db.user, password: db.password });
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

/** CURRENT_USER() and the outcome of `probe`, through `port`; the error code if the login fails. */
async function session(port: number, user: string, password: string, probe: string): Promise<{ login?: number; currentUser?: string; probe?: number | 'ok' }> {
  let c: mysql.Connection;
  try {
    c = await mysql.createConnection({ host: '127.0.0.1', port, user, password });
  } catch (err) {
    return { login: (err as { errno: number }).errno };
  }
  try {
    const [rows] = await c.query('SELECT CURRENT_USER() AS u');
    const outcome = await c.query(probe).then(
      () => 'ok' as const,
      (err: { errno: number }) => err.errno,
    );
    return { currentUser: (rows as Array<{ u: string }>)[0]!.u, probe: outcome };
  } finally {
    await c.end();
  }
}

/** Three verifier TTLs: the proxy has read the accounts again since the change. */
const settle = () => new Promise((r) => setTimeout(r, 300));

for (const mode of MODES) {
  test(`${mode} mode: a pooled connection does not outlive DROP USER, REVOKE or ACCOUNT LOCK`, async () => {
    const port = proxies[mode]!.port;
    const u = `u_${mode}`;
    await asAdmin(`CREATE USER ${u}@'%' IDENTIFIED BY 'pw1'`);
    await asAdmin(`GRANT ALL ON *.* TO ${u}@'%'`);
    await settle();
    const before = await session(port, u, 'pw1', `CREATE DATABASE IF NOT EXISTS db_${u}_1`);
    assert.deepEqual(before, { currentUser: `${u}@%`, probe: 'ok' });

    // The account moves to another host, without privileges: the pooled connection of u@% must not be lent.
    await asAdmin(`DROP USER ${u}@'%'`);
    await asAdmin(`CREATE USER ${u}@'127.0.0.1' IDENTIFIED BY 'pw1'`);
    await settle();
    const direct = await session(db.port, u, 'pw1', `CREATE DATABASE db_${u}_2`);
    const proxied = await session(port, u, 'pw1', `CREATE DATABASE db_${u}_2`);
    assert.deepEqual(direct, { currentUser: `${u}@127.0.0.1`, probe: 1044 });
    assert.deepEqual(proxied, direct);

    // Privileges granted, used through the pool, then revoked.
    await asAdmin(`GRANT ALL ON *.* TO ${u}@'127.0.0.1'`);
    await settle();
    assert.deepEqual(await session(port, u, 'pw1', `CREATE DATABASE IF NOT EXISTS db_${u}_3`), { currentUser: `${u}@127.0.0.1`, probe: 'ok' });
    await asAdmin(`REVOKE ALL PRIVILEGES ON *.* FROM ${u}@'127.0.0.1'`);
    await settle();
    assert.deepEqual(await session(port, u, 'pw1', `CREATE DATABASE db_${u}_4`), await session(db.port, u, 'pw1', `CREATE DATABASE db_${u}_4`));

    // Locked: refused with the server's 4151, through the proxy as directly.
    await asAdmin(`ALTER USER ${u}@'127.0.0.1' ACCOUNT LOCK`);
    await settle();
    assert.deepEqual(await session(db.port, u, 'pw1', 'SELECT 1'), { login: 4151 });
    assert.deepEqual(await session(port, u, 'pw1', 'SELECT 1'), { login: 4151 });
  });
}

// SET ROLE reloads the account's current global privileges into a session: a reset that
// set the role back would give the connection a grant made while it was lent, and a
// REVOKE that puts the account's row back as it was (its version too) would then let it
// go to the next client with that grant.
for (const mode of MODES) {
  test(`${mode} mode: a grant made while a pooled connection is lent, then revoked, does not reach the next client`, async () => {
    const port = proxies[mode]!.port;
    const u = `g_${mode}`;
    await asAdmin(`CREATE USER ${u}@'%' IDENTIFIED BY 'pw'`);
    await settle();
    const lent = await mysql.createConnection({ host: '127.0.0.1', port, user: u, password: 'pw' });
    await lent.query('SELECT 1');
    await asAdmin(`GRANT SELECT ON *.* TO ${u}@'%'`);
    await lent.end();
    await settle();
    await asAdmin(`REVOKE SELECT ON *.* FROM ${u}@'%'`);
    await settle();
    const direct = await session(db.port, u, 'pw', 'SELECT COUNT(*) FROM mysql.db');
    assert.deepEqual(direct, { currentUser: `${u}@%`, probe: 1142 });
    assert.deepEqual(await session(port, u, 'pw', 'SELECT COUNT(*) FROM mysql.db'), direct);
  });
}

/** CURRENT_ROLE() and the outcome of `probe`, through `port`. */
async function roleSession(port: number, user: string, password: string, probe: string): Promise<{ role: string | null; probe: number | 'ok' }> {
  const c = await mysql.createConnection({ host: '127.0.0.1', port, user, password });
  try {
    const [rows] = await c.query('SELECT CURRENT_ROLE() AS r');
    const outcome = await c.query(probe).then(
      () => 'ok' as const,
      (err: { errno: number }) => err.errno,
    );
    return { role: (rows as Array<{ r: string | null }>)[0]!.r, probe: outcome };
  } finally {
    await c.end();
  }
}

// A login's default role, and every role granted to it, give the session their global
// privileges as they are at the login, for as long as it lasts; an account that lost the
// role logs in without it. A pooled connection made before such a change must not serve
// a login after it: the account's row is the same, so only its role version tells.
for (const mode of MODES) {
  test(`${mode} mode: a change to a default role, to a role granted to it, or to the account's grant of it reaches the next client as a direct login`, async () => {
    const port = proxies[mode]!.port;
    const [u, r1, r2] = [`d_${mode}`, `r1_${mode}`, `r2_${mode}`];
    const probe = 'SELECT COUNT(*) FROM mysql.db';
    for (const sql of [`CREATE ROLE ${r1}`, `CREATE ROLE ${r2}`, `GRANT ${r2} TO ${r1}`, `GRANT SELECT ON *.* TO ${r2}`, `CREATE USER ${u}@'%' IDENTIFIED BY 'pw'`, `GRANT ${r1} TO ${u}@'%'`, `SET DEFAULT ROLE ${r1} FOR ${u}@'%'`]) {
      await asAdmin(sql);
    }
    await settle();
    const both = async () => ({ direct: await roleSession(db.port, u, 'pw', probe), proxied: await roleSession(port, u, 'pw', probe) });
    let seen = await both();
    assert.deepEqual(seen.direct, { role: r1, probe: 'ok' });
    assert.deepEqual(seen.proxied, seen.direct);

    // The role granted to the default role loses its global grant.
    await asAdmin(`REVOKE SELECT ON *.* FROM ${r2}`);
    await settle();
    seen = await both();
    assert.deepEqual(seen.direct, { role: r1, probe: 1142 });
    assert.deepEqual(seen.proxied, seen.direct);

    // The default role itself gets one, is used through the pool, then the account loses the role.
    await asAdmin(`GRANT SELECT ON *.* TO ${r1}`);
    await settle();
    seen = await both();
    assert.deepEqual(seen.proxied, { role: r1, probe: 'ok' });
    await asAdmin(`REVOKE ${r1} FROM ${u}@'%'`);
    await settle();
    seen = await both();
    assert.deepEqual(seen.direct, { role: null, probe: 1142 });
    assert.deepEqual(seen.proxied, seen.direct);
  });
}

test('a reader without SELECT on mysql.roles_mapping: a default role change still reaches the next client, and the proxy says why once', async () => {
  for (const sql of [
    "CREATE USER 'reader_noroles'@'%' IDENTIFIED BY 'nr'",
    "GRANT SELECT ON mysql.global_priv TO 'reader_noroles'@'%'",
    'CREATE ROLE r_nr',
    'GRANT SELECT ON *.* TO r_nr',
    "CREATE USER nr@'%' IDENTIFIED BY 'pw'",
    "GRANT r_nr TO nr@'%'",
    "SET DEFAULT ROLE r_nr FOR nr@'%'",
  ]) {
    await asAdmin(sql);
  }
  const proxy = await startProxyProcess([
    '--backend', `${db.host}:${db.port}`,
    '--accounts-user', 'reader_noroles',
    '--accounts-password', 'nr',
    '--pool-mode', 'session',
    '--verifier-ttl', '100ms',
  ]);
  try {
    const probe = 'SELECT COUNT(*) FROM mysql.db';
    assert.deepEqual(await roleSession(proxy.port, 'nr', 'pw', probe), { role: 'r_nr', probe: 'ok' });
    await asAdmin('REVOKE SELECT ON *.* FROM r_nr');
    await settle();
    const direct = await roleSession(db.port, 'nr', 'pw', probe);
    assert.deepEqual(direct, { role: 'r_nr', probe: 1142 });
    assert.deepEqual(await roleSession(proxy.port, 'nr', 'pw', probe), direct);
    const said = proxy.lines.filter((l) => l.includes('mysql.roles_mapping'));
    assert.equal(said.length, 1, said.join('\n'));
    assert.match(said[0]!, /"level":40/);
  } finally {
    await proxy.kill('SIGTERM');
  }
});

// A login takes the account's MAX_STATEMENT_TIME into the session; MariaDB 10.11's
// COM_RESET_CONNECTION takes it back to the global value, and a session-mode pool
// resets each connection between clients.
for (const mode of MODES) {
  test(`${mode} mode: every client of an account WITH MAX_STATEMENT_TIME has it, as at a direct login`, async () => {
    const port = proxies[mode]!.port;
    const u = `mst_${mode}`;
    await asAdmin(`CREATE USER ${u}@'%' IDENTIFIED BY 'pw' WITH MAX_STATEMENT_TIME 5`);
    await settle();
    const read = async (p: number) => {
      const seen: unknown[] = [];
      for (let i = 0; i < 3; i++) {
        const c = await mysql.createConnection({ host: '127.0.0.1', port: p, user: u, password: 'pw' });
        const [rows] = await c.query('SELECT @@max_statement_time AS m');
        seen.push((rows as Array<{ m: unknown }>)[0]!.m);
        await c.end();
        await new Promise((r) => setTimeout(r, 50));
      }
      return seen;
    };
    const direct = await read(db.port);
    assert.deepEqual(direct, [5, 5, 5]);
    assert.deepEqual(await read(port), direct);
    // The mariadb CLI, which runs its own query at connect.
    const cli = async (p: number) => {
      const seen: string[] = [];
      for (let i = 0; i < 3; i++) {
        const r = await mariadbCli(p, u, 'pw', 'SELECT @@max_statement_time', ['-N']);
        assert.equal(r.code, 0, r.stderr);
        seen.push(r.stdout.trim());
      }
      return seen;
    };
    const directCli = await cli(db.port);
    assert.deepEqual(directCli, ['5.000000', '5.000000', '5.000000']);
    assert.deepEqual(await cli(port), directCli);
  });
}

/** Logins of `user` through `port` held open at once, `n` of them; each runs SELECT 1. What the last one got. */
async function concurrent(port: number, user: string, n: number): Promise<{ opened: number; refused?: { errno: number; message: string } }> {
  const open: mysql.Connection[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const c = await mysql.createConnection({ host: '127.0.0.1', port, user, password: 'pw' });
      open.push(c);
      await c.query('SELECT 1');
    }
    return { opened: open.length };
  } catch (err) {
    const e = err as { errno: number; sqlMessage?: string; message: string };
    return { opened: open.length, refused: { errno: e.errno, message: e.sqlMessage ?? e.message } };
  } finally {
    await Promise.all(open.map((c) => c.end()));
  }
}

/** Statements one session of `user` runs before the compute refuses one (at most 10), and the refusal. */
async function statementsAllowed(port: number, user: string): Promise<{ ran: number; refused?: number }> {
  const c = await mysql.createConnection({ host: '127.0.0.1', port, user, password: 'pw' });
  try {
    for (let ran = 0; ran < 10; ran++) {
      const failed = await c.query('SELECT 1').then(
        () => null,
        (err: { errno: number }) => err.errno,
      );
      if (failed !== null) return { ran, refused: failed };
    }
    return { ran: 10 };
  } finally {
    c.destroy();
  }
}

// The compute counts an account's connections, logins and statements when it has
// resource limits: through the proxy each session is one connection and one login, as
// directly, and no statement of the pool's counts.
for (const mode of MODES) {
  test(`${mode} mode: an account's MAX_USER_CONNECTIONS and MAX_QUERIES_PER_HOUR count as for direct clients`, async () => {
    const port = proxies[mode]!.port;
    const u = `lim_${mode}`;
    await asAdmin(`CREATE USER ${u}@'%' IDENTIFIED BY 'pw' WITH MAX_USER_CONNECTIONS 2`);
    await settle();
    const direct = await concurrent(db.port, u, 3);
    assert.equal(direct.opened, 2);
    assert.equal(direct.refused?.errno, 1226);
    assert.deepEqual(await concurrent(port, u, 3), direct);
    // Nothing of those sessions stays open on the compute to count against the next.
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(await concurrent(db.port, u, 2), { opened: 2 });

    await asAdmin(`ALTER USER ${u}@'%' WITH MAX_USER_CONNECTIONS 0 MAX_QUERIES_PER_HOUR 4`);
    await asAdmin('FLUSH USER_RESOURCES');
    await settle();
    const directRan = await statementsAllowed(db.port, u);
    assert.deepEqual(directRan, { ran: 4, refused: 1226 });
    await asAdmin('FLUSH USER_RESOURCES');
    assert.deepEqual(await statementsAllowed(port, u), directRan);
  });
}

test("the server's max_user_connections limits every account: each session gets a connection of its own (CONNECTION_ID() is the compute's)", async () => {
  // Only a server started with it can have it: one started with 0 refuses SET GLOBAL max_user_connections.
  const limited = await startStandaloneMariadb('app', 'app-secret', `${READER_SQL}\nCREATE USER gl@'%' IDENTIFIED BY 'pw';`, ['--max-user-connections=100']);
  const started: ProxyProcess[] = [];
  try {
    for (const mode of MODES) {
      const proxy = await startProxyProcess(['--backend', `${limited.host}:${limited.port}`, '--accounts-user', 'reader', '--accounts-password', 'reader-secret', '--pool-mode', mode]);
      started.push(proxy);
      const c = await mysql.createConnection({ host: '127.0.0.1', port: proxy.port, user: 'gl', password: 'pw' });
      const [rows] = await c.query('SELECT CONNECTION_ID() AS id, @@max_user_connections AS m');
      await c.end();
      const { id, m } = (rows as Array<{ id: unknown; m: unknown }>)[0]!;
      assert.equal(Number(m), 100);
      assert.ok(Number(id) < 2 ** 30, `${mode}: its own connection, so the compute's thread id, not a session id (${id})`);
      const [admin] = await proxy.records((r) => r.msg === 'admin HTTP listening', 1);
      const metrics = await (await fetch(`http://127.0.0.1:${String(admin!.port)}/metrics`)).text();
      assert.match(metrics, /^wakeproxy_pool_own_connections_total\{reason="resource_limits"\} 1$/m);
    }
  } finally {
    for (const p of started) await p.kill('SIGTERM');
    await limited.stop();
  }
});

// A pool that grows while the proxy's accounts are older than a GRANT holds a connection
// with the grant under the old version. After a REVOKE puts the row (and its version) back,
// that connection must not serve the logins judged by it: the epoch moved when the proxy
// saw the grant's version (proxy/account-epochs.ts).
for (const mode of MODES) {
  test(`${mode} mode: a connection made while the proxy's accounts were older than a GRANT does not serve logins after its REVOKE`, async () => {
    const TTL_MS = 1_500;
    const u = `stale_${mode}`;
    await asAdmin(`CREATE USER ${u}@'%' IDENTIFIED BY 'pw'`);
    const proxy = await startProxyProcess([
      '--backend', `${db.host}:${db.port}`,
      '--accounts-user', 'reader',
      '--accounts-password', 'reader-secret',
      '--pool-mode', mode,
      '--verifier-ttl', `${TTL_MS}ms`,
    ]);
    const probe = 'SELECT COUNT(*) FROM mysql.db';
    const login = () => mysql.createConnection({ host: '127.0.0.1', port: proxy.port, user: u, password: 'pw' });
    const run = (c: mysql.Connection) => c.query(probe).then(() => 'ok' as const, (err: { errno: number }) => err.errno);
    const past = () => new Promise((r) => setTimeout(r, TTL_MS + 300));
    try {
      const first = await login(); // the proxy reads the accounts: the version without the grant
      await run(first);
      await first.end();
      await asAdmin(`GRANT SELECT ON *.* TO ${u}@'%'`);
      // Judged by that read (still fresh): one takes the idle connection, one makes a new one, with the grant
      // (each in a transaction, so transaction mode holds both at once too).
      const pair = [await login(), await login()];
      for (const c of pair) await c.query('BEGIN');
      assert.deepEqual(await Promise.all(pair.map(run)), [1142, 'ok'], 'the old connection has the old privileges, the new one the grant');
      for (const c of pair) await c.query('COMMIT');
      await Promise.all(pair.map((c) => c.end()));
      await past();
      await (await login()).end(); // a new read: the grant's version
      await asAdmin(`REVOKE SELECT ON *.* FROM ${u}@'%'`);
      await past();
      const direct = await session(db.port, u, 'pw', probe);
      assert.equal(direct.probe, 1142);
      const seen: Array<number | 'ok'> = [];
      for (let i = 0; i < 3; i++) {
        const two = [await login(), await login()];
        for (const c of two) seen.push(await run(c));
        await Promise.all(two.map((c) => c.end()));
      }
      assert.deepEqual(seen, seen.map(() => 1142));
    } finally {
      await proxy.kill('SIGTERM');
    }
  });
}
