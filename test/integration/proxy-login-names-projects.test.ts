// The login-name sweep through a control-plane proxy (verified, transaction pooling),
// where the project rides in the name: `shop.<user>` (split at the first dot, so
// `shop.a.b` is user `a.b`) or, with database routing, the database `shop/<database>`.
// Each login runs directly against the compute and through the proxy with the project
// added; the outcomes must be equal. Refusals run with the compute frozen and must leave
// it so: a login that could not succeed directly wakes nothing (a handshake in ucs2,
// utf16, utf16le or utf32, which the server refuses whatever the password, included).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import { startStack, type ProjectCredentials, type Stack } from '../helpers/stack.js';
import { CLIENTS, describeLogin, type Login } from '../helpers/login-names.js';
import { wireLogin, type WireLogin } from '../helpers/wire-login.js';

let stack: Stack;
let shop: ProjectCredentials;

const LONGEST = 'u'.repeat(128);

async function awake(): Promise<number> {
  const c = await stack.compute(shop.computeId);
  if (c.state === 'active') return c.port;
  const woken = await stack.api('POST', '/api/v1/projects/shop/wake');
  assert.equal(woken.status, 200, JSON.stringify(woken.body));
  return woken.body.compute.port;
}

before(async () => {
  stack = await startStack({
    cacheTtlMs: 100,
    verify: { ttlMs: 200, poolMode: 'transaction' },
    proxy: { limits: { maxAuthFailuresPerMinute: 1_000_000 }, routing: { databaseRouting: true } },
  });
  shop = await stack.createProject('shop');
  const owner = await mysql.createConnection({ host: '127.0.0.1', port: await awake(), user: shop.user, password: shop.password, charset: 'utf8mb4_general_ci' });
  for (const sql of [
    "CREATE USER 'a.b'@'%' IDENTIFIED BY 'pw'",
    "CREATE USER 'ü'@'%' IDENTIFIED BY 'pw'",
    "CREATE USER 'a?'@'%' IDENTIFIED BY 'pw'",
    "CREATE USER 'App'@'%' IDENTIFIED BY 'upper'",
    `CREATE USER '${LONGEST}'@'%' IDENTIFIED BY 'pw'`,
    "CREATE USER lim@'%' IDENTIFIED BY 'pw'",
    'CREATE DATABASE inventory',
    'CREATE DATABASE `dü`',
    'CREATE DATABASE hidden',
    "GRANT ALL ON *.* TO 'a.b'@'%', 'ü'@'%'",
    "GRANT SELECT ON inventory.* TO lim@'%'",
  ]) {
    await owner.query(sql);
  }
  await owner.end();
});

after(async () => {
  await stack?.close();
});

interface Case {
  name: string;
  /**
   * The right password for a database the compute refuses (1044, 1049): the proxy judges
   * the account, not database privileges, so this wakes the compute, which answers.
   */
  wakes?: boolean;
  /** Directly (prefix false) or through the proxy (the project named). */
  run: (port: number, proxied: boolean) => Promise<string>;
}

/** `l` by `client`; through the proxy as `shop.<user>`, or with the database `shop/<database>` when `viaDatabase`. */
const login = (client: string, l: Login, viaDatabase = false, wakes = false): Case => ({
  wakes,
  name: `${client} ${describeLogin(l)}${viaDatabase ? ' (database routing)' : ''}`,
  run: (port, proxied) => {
    if (!proxied) return CLIENTS[client]!(port, l);
    if (viaDatabase) return CLIENTS[client]!(port, { ...l, database: l.database ? `shop/${l.database}` : 'shop' });
    return CLIENTS[client]!(port, { ...l, user: `shop.${l.user}` });
  },
});

const wire = (w: Omit<WireLogin, 'port'>): Case => ({
  name: `bare ${w.user.toString('hex')} ${w.password} ${w.database?.toString('hex') ?? ''} ${w.charset ?? ''}`,
  run: async (port, proxied) => JSON.stringify(await wireLogin({ ...w, port, user: proxied ? Buffer.concat([Buffer.from('shop.'), w.user]) : w.user })),
});

/** Every case directly (compute awake), then through the proxy: refusals with the compute frozen, then the rest. */
async function compare(cases: Case[]): Promise<void> {
  const port = await awake();
  const expected: string[] = [];
  for (const c of cases) expected.push(await c.run(port, false));
  await stack.suspend(shop.computeId, 'freeze');
  const frozen = await stack.compute(shop.computeId);
  const diffs: string[] = [];
  const check = async (i: number) => {
    const got = await cases[i]!.run(stack.proxy.port, true);
    if (got !== expected[i]) diffs.push(`${cases[i]!.name}:\n    direct:  ${expected[i]}\n    proxied: ${got}`);
  };
  const succeeds = (i: number) => expected[i]!.startsWith('ok') || expected[i] === '{"kind":"ok"}' || cases[i]!.wakes === true;
  for (const i of cases.keys()) {
    if (succeeds(i)) continue;
    await check(i);
    const now = await stack.compute(shop.computeId);
    assert.deepEqual([now.state, now.resumeCount], ['frozen', frozen.resumeCount], `${cases[i]!.name}: the compute was woken`);
  }
  for (const i of cases.keys()) if (succeeds(i)) await check(i);
  if (diffs.length > 0) assert.fail(`${diffs.length} differences:\n${diffs.join('\n')}`);
}

test('shop.<user>: dots, UTF-8, case, beyond the BMP, the anonymous user, the longest and longer, wrong passwords', async () => {
  const cases: Case[] = [];
  for (const client of ['mysql2', 'mariadb', 'cli']) {
    for (const l of [
      { user: 'a.b', password: 'pw' },
      { user: 'a.b', password: 'wrong' },
      { user: 'ü', password: 'pw' },
      { user: 'ü', password: '' },
      { user: 'a😀', password: 'pw' },
      { user: 'App', password: 'upper' },
      { user: 'app', password: 'upper' },
      { user: LONGEST, password: 'pw' },
      { user: LONGEST + 'u', password: 'pw' },
      { user: 'nosuch', password: '' },
    ]) {
      cases.push(login(client, l));
    }
  }
  // Not the command line: `-u ''` is the operating system's user to it.
  cases.push(login('mysql2', { user: '', password: 'x' }), login('mariadb', { user: '', password: '' }));
  cases.push(login('mysql2', { user: 'ü', password: 'pw', charset: 'latin1_swedish_ci' }));
  cases.push(login('mysql2', { user: 'ü', password: 'wrong', charset: 'latin1_swedish_ci' }));
  await compare(cases);
});

test('databases at login, named directly or as shop/<database>: UTF-8, hidden (1044), unknown (1049), unreadable (1300)', async () => {
  const cases: Case[] = [];
  for (const client of ['mysql2', 'mariadb']) {
    for (const [l, wakes] of [
      [{ user: 'ü', password: 'pw', database: 'dü' }, false],
      [{ user: 'lim', password: 'pw', database: 'inventory' }, false],
      [{ user: 'lim', password: 'pw', database: 'hidden' }, true],
      [{ user: 'lim', password: 'pw', database: 'nosuch' }, true],
      [{ user: 'lim', password: 'wrong', database: 'hidden' }, false],
    ] as Array<[Login, boolean]>) {
      cases.push(login(client, l, false, wakes), login(client, l, true, wakes));
    }
  }
  cases.push(wire({ user: Buffer.from('lim'), password: 'pw', database: Buffer.from([0x64, 0xfc]) }));
  cases.push(wire({ user: Buffer.from('lim'), password: '' })); // a one-byte answer: 1043
  await compare(cases);
});

test("ucs2, utf16, utf16le, utf32 handshakes: the server's 1231 with the right password too, and nothing woken", async () => {
  const cases: Case[] = [];
  for (const charset of [35, 54, 56, 60, 183]) {
    for (const [user, password] of [['a.b', 'pw'], ['a.b', 'wrong'], ['nosuch', 'pw']] as const) {
      cases.push(wire({ user: Buffer.from(user), password, charset, exact: true }));
    }
    cases.push(wire({ user: Buffer.from('lim'), password: 'pw', database: Buffer.from('inventory'), charset, exact: true }));
  }
  for (const client of ['mysql2', 'mariadb', 'cli']) cases.push(login(client, { user: 'a.b', password: 'pw', charset: 'utf16_general_ci' }));
  cases.push(login('mysql2', { user: 'lim', password: 'pw', database: 'inventory', charset: 'ucs2_general_ci' }, true));
  await compare(cases);
});
