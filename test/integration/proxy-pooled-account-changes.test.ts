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
