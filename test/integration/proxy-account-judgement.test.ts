// Logins through the proxy are judged as MariaDB judges them: each case runs directly
// against the compute and through the proxy, and the two outcomes (code, SQLSTATE,
// message, CURRENT_USER(), the sandbox's 1820) must be equal. Every refusal through the
// proxy is made while the compute is frozen and must leave it so: no wake, no resume.
//
// Accounts use host 127.0.0.1 (where the compute sees both the test and the proxy come
// from), so the anonymous ''@'127.0.0.1' shadows only what is less specific than it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import { startStack, type ProjectCredentials, type Stack } from '../helpers/stack.js';
import { cliLogin, mysql2Login, pymysqlLogin, type Outcome, type Target } from '../helpers/login-outcome.js';

let stack: Stack;
let shop: ProjectCredentials;
let direct: Target;
let proxied: Target;
let adminPort = 0;

interface Case {
  name: string;
  run: (t: Target) => Promise<Outcome>;
}

const m2 = (user: string, password: string, flags?: string): Case => ({
  name: `mysql2 ${user}/${password ? 'pw' : 'none'}${flags ? ' ' + flags : ''} (${password})`,
  run: (t) => mysql2Login(t, user, password, flags ? { flags } : {}),
});
const cli = (user: string, password: string, extra: string[] = []): Case => ({
  name: `mariadb ${user} (${password}) ${extra.join(' ')}`,
  run: (t) => cliLogin(t, user, password, 'SELECT CURRENT_USER()', extra),
});
const py = (user: string, password: string): Case => ({ name: `pymysql ${user} (${password})`, run: (t) => pymysqlLogin(t, user, password) });

/** Has the control plane read the compute's accounts and settings now (as its next sweep would). */
async function reread(): Promise<void> {
  const res = await stack.api('GET', '/api/v1/projects/shop/roles?user=admin&fresh=1');
  assert.equal(res.status, 200);
}

async function admin(sql: string): Promise<void> {
  const conn = await mysql.createConnection({ host: '127.0.0.1', port: adminPort, user: 'admin', password: 'admin-pw' });
  try {
    await conn.query(sql);
  } finally {
    await conn.end();
  }
}

/** Awake, and where it listens. */
async function awake(): Promise<number> {
  const c = await stack.compute(shop.computeId);
  if (c.state !== 'active') {
    const woken = await stack.api('POST', `/api/v1/projects/shop/wake`);
    assert.equal(woken.status, 200, JSON.stringify(woken.body));
    return woken.body.compute.port;
  }
  return c.port;
}

before(async () => {
  stack = await startStack({
    cacheTtlMs: 100,
    verify: { ttlMs: 200, poolMode: 'transaction' },
    proxy: { limits: { maxAuthFailuresPerMinute: 10_000 } },
  });
  shop = await stack.createProject('shop');
  adminPort = await awake();
  const owner = await mysql.createConnection({ host: '127.0.0.1', port: adminPort, user: shop.user, password: shop.password });
  // The owner is owner@'%': once ''@'127.0.0.1' exists it shadows the owner from here, so an admin at the same rank takes over.
  await owner.query("CREATE USER admin@'127.0.0.1' IDENTIFIED BY 'admin-pw'");
  await owner.query("GRANT ALL PRIVILEGES ON *.* TO admin@'127.0.0.1' WITH GRANT OPTION");
  await owner.end();
  for (const sql of [
    "CREATE USER app@'127.0.0.1' IDENTIFIED BY 'app-pw'",
    "CREATE USER sel@'%' IDENTIFIED BY 'sel-any'",
    "CREATE USER sel@'127.0.0.1' IDENTIFIED BY 'sel-local'",
    "CREATE USER sel@'10.%' IDENTIFIED BY 'sel-ten'",
    "CREATE USER sel@'127.0.0.0/255.255.255.0' IDENTIFIED BY 'sel-masked'",
    "CREATE USER shadowed@'127.0.0.%' IDENTIFIED BY 'own-pw'",
    "CREATE USER ''@'127.0.0.1' IDENTIFIED BY 'anon-pw'",
    "CREATE USER locked@'127.0.0.1' IDENTIFIED BY 'lk' ACCOUNT LOCK",
    "CREATE USER exp@'127.0.0.1' IDENTIFIED BY 'ex' PASSWORD EXPIRE",
    "CREATE USER aged@'127.0.0.1' IDENTIFIED BY 'ag' PASSWORD EXPIRE INTERVAL 1 DAY",
    "CREATE USER old@'127.0.0.1' IDENTIFIED BY PASSWORD '1234567890abcdef'",
    "CREATE USER sock@'127.0.0.1' IDENTIFIED VIA unix_socket",
    "CREATE USER either@'127.0.0.1' IDENTIFIED VIA mysql_native_password USING PASSWORD('e') OR unix_socket",
    "CREATE USER nopw@'127.0.0.1'",
    "CREATE USER mpe_d@'127.0.0.1' IDENTIFIED BY 'm'",
    "CREATE USER mpe_p@'127.0.0.1' IDENTIFIED BY 'm'",
    "GRANT SELECT ON *.* TO app@'127.0.0.1'",
    'SET GLOBAL max_password_errors = 3',
    'SET GLOBAL disconnect_on_expired_password = OFF',
  ]) {
    await admin(sql);
  }
  // 'aged' changed its password two days ago: expired by age, not by PASSWORD EXPIRE.
  await admin("UPDATE mysql.global_priv SET Priv = JSON_SET(Priv, '$.password_last_changed', UNIX_TIMESTAMP() - 2 * 86400) WHERE User = 'aged'");
  await admin('FLUSH PRIVILEGES');
  direct = { port: adminPort, prefix: '' };
  proxied = { port: stack.proxy.port, prefix: 'shop.' };
});

after(async () => {
  await stack?.close();
});

/** Runs every case directly (compute awake), then through the proxy: refusals with the compute frozen. */
async function compare(cases: Case[]): Promise<void> {
  direct = { port: await awake(), prefix: '' };
  const expected: Outcome[] = [];
  for (const c of cases) expected.push(await c.run(direct));
  await stack.suspend(shop.computeId, 'freeze'); // its accounts and settings are read first
  const frozen = await stack.compute(shop.computeId);
  const successes: number[] = [];
  for (const [i, c] of cases.entries()) {
    // A sandboxed PyMySQL fails its first statement inside connect(): a login that succeeded.
    const e = expected[i]!;
    if (e.ok || e.code === 1820) {
      successes.push(i);
      continue;
    }
    assert.deepEqual(await c.run(proxied), expected[i], c.name);
    const now = await stack.compute(shop.computeId);
    assert.equal(now.state, 'frozen', `${c.name}: the compute was woken`);
    assert.equal(now.resumeCount, frozen.resumeCount, `${c.name}: the compute was resumed`);
  }
  for (const i of successes) assert.deepEqual(await cases[i]!.run(proxied), expected[i], cases[i]!.name);
}

test('which account a login gets: host-specific accounts, masks, anonymous shadowing, unknown users (CURRENT_USER() compared)', async () => {
  await compare([
    m2('app', 'app-pw'),
    m2('sel', 'sel-local'),
    m2('sel', 'sel-any'),
    m2('sel', 'sel-masked'),
    m2('shadowed', 'own-pw'),
    m2('shadowed', 'anon-pw'),
    m2('nosuch', 'anon-pw'),
    m2('nosuch', 'wrong'),
    cli('nosuch', ''),
    py('app', 'app-pw'),
    cli('app', 'app-pw'),
  ]);
});

test("wrong passwords, 'using password: NO', locked accounts, old hashes, unix_socket", async () => {
  await compare([
    m2('app', 'wrong'),
    m2('app', ''),
    cli('app', ''),
    cli('app', 'wrong'),
    py('locked', 'wrong'),
    cli('locked', 'lk'),
    cli('locked', 'wrong'),
    m2('locked', 'lk'),
    cli('old', 'whatever'),
    m2('sock', 'x'),
    m2('either', 'wrong'),
    m2('either', 'e'),
    m2('nopw', ''),
    m2('nopw', 'x'),
  ]);
});

test('expired passwords with disconnect_on_expired_password OFF: every client gets the sandbox (1820)', async () => {
  await compare([m2('exp', 'ex'), py('exp', 'ex'), cli('exp', 'ex', ['--connect-expired-password']), m2('aged', 'ag'), m2('exp', 'wrong')]);
});

test('expired passwords with disconnect_on_expired_password ON: 1862 unless the client can handle the sandbox', async () => {
  await awake();
  await admin('SET GLOBAL disconnect_on_expired_password = ON');
  await reread();
  await compare([
    m2('exp', 'ex'),
    py('exp', 'ex'),
    cli('exp', 'ex'),
    cli('exp', 'ex', ['--connect-expired-password']),
    m2('exp', 'ex', 'CAN_HANDLE_EXPIRED_PASSWORDS'),
    m2('aged', 'ag'),
  ]);
  await awake();
  await admin('SET GLOBAL disconnect_on_expired_password = OFF');
});

test('an expired password is changed through the pooled proxy, and the new one works', async () => {
  await awake();
  const set = await cliLogin(proxied, 'exp', 'ex', "SET PASSWORD = PASSWORD('ex-new'); SELECT CURRENT_USER()", ['--connect-expired-password']);
  assert.deepEqual(set, { ok: true, currentUser: 'exp@127.0.0.1' });
  assert.deepEqual(await mysql2Login(proxied, 'exp', 'ex-new'), { ok: true, currentUser: 'exp@127.0.0.1' });
  assert.deepEqual(await mysql2Login(direct, 'exp', 'ex-new'), { ok: true, currentUser: 'exp@127.0.0.1' });
});

test('max_password_errors: blocked after 3 wrong passwords, as the server blocks (4150), until the account changes', async () => {
  direct = { port: await awake(), prefix: '' };
  const run = async (t: Target, user: string) => {
    const out: Outcome[] = [];
    for (const pw of ['w1', 'w2', 'w3', 'm']) out.push(await mysql2Login(t, user, pw));
    return out;
  };
  const server = await run(direct, 'mpe_d');
  assert.equal((server[3] as { code: number }).code, 4150, JSON.stringify(server));
  await stack.suspend(shop.computeId, 'freeze');
  const frozen = await stack.compute(shop.computeId);
  const proxy = await run(proxied, 'mpe_p');
  const rename = (o: Outcome) => (o.ok ? o : { ...o, message: o.message.replace('mpe_p', 'mpe_d') });
  assert.deepEqual(proxy.map(rename), server);
  const now = await stack.compute(shop.computeId);
  assert.deepEqual([now.state, now.resumeCount], ['frozen', frozen.resumeCount], 'no wake for a blocked account');
  // ALTER USER unblocks on the server; the proxy sees the account's row change and starts again from zero.
  await awake();
  await admin("ALTER USER mpe_p@'127.0.0.1' IDENTIFIED BY 'm2'");
  assert.deepEqual(await mysql2Login(proxied, 'mpe_p', 'm2'), { ok: true, currentUser: 'mpe_p@127.0.0.1' });
});
