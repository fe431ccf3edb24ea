// A differential sweep of the names a login carries: user names (UTF-8, case, spaces,
// the anonymous user, the longest the server keeps and one longer, dots, quotes,
// backslashes, wildcard characters, a NUL inside), database names at login (UTF-8, case,
// slashes and dots, one the user may not see, unknown, too long, empty) and passwords
// (none, long, non-ASCII). Each login runs directly against mariadbd and through a proxy
// of every mode in front of it (pipe with passthrough auth; pipe, session and transaction
// with the proxy's own checks), with mysql2, the npm mariadb connector, the mariadb
// command line and a bare client (the bytes no driver sends); what the client ends with
// must be the same: USER(), CURRENT_USER(), DATABASE(), or the error's code, SQLSTATE and
// text. A handshake in a character set no client may use (ucs2, utf16, utf16le, utf32)
// is refused by the server before it reads the rest (1231): through the proxy too, with
// the same bytes, whatever the user, password and database. Every client connects from 127.0.0.1, which is also where mariadbd sees the
// proxy, so the error's 'user'@'host' names the same host both ways.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import { MODES, startModeProxies, type ModeProxies } from '../helpers/mode-proxies.js';
import { CLIENTS, describeLogin, type Login } from '../helpers/login-names.js';
import { wireLogin, type WireLogin } from '../helpers/wire-login.js';
import { CLIENT_PLUGIN_AUTH, CLIENT_PROTOCOL_41, CLIENT_SECURE_CONNECTION, refusedClientCharset } from '../../protocol/index.js';

let t: ModeProxies;

const LONGEST = 'u'.repeat(128);
// One statement a line (how --init-file reads them), in utf8mb4 (the file is read as latin1 otherwise).
const SETUP = [
  'SET NAMES utf8mb4;',
  "CREATE USER '?'@'%' IDENTIFIED BY 'pwq';",
  "CREATE USER '€'@'%' IDENTIFIED BY 'pw';",
  "CREATE USER 'Ã¼'@'%' IDENTIFIED BY 'pw';",
  "CREATE USER 'a?'@'%' IDENTIFIED BY 'pw';",
  "CREATE USER 'ü'@'%' IDENTIFIED BY 'pw';",
  "CREATE USER '用户'@'%' IDENTIFIED BY 'pw';",
  "CREATE USER 'App'@'%' IDENTIFIED BY 'upper';",
  "CREATE USER ' lead'@'%' IDENTIFIED BY 'pw';",
  "CREATE USER 'a.b'@'%' IDENTIFIED BY 'pw';",
  "CREATE USER 'a@b'@'%' IDENTIFIED BY 'pw';",
  "CREATE USER 'q''t'@'%' IDENTIFIED BY 'pw';",
  "CREATE USER 'b\\\\s'@'%' IDENTIFIED BY 'pw';",
  "CREATE USER 'p%'@'%' IDENTIFIED BY 'pw';",
  "CREATE USER 'u_1'@'%' IDENTIFIED BY 'pw';",
  `CREATE USER '${LONGEST}'@'%' IDENTIFIED BY 'pw';`,
  "CREATE USER nopw@'%';",
  "CREATE USER 'pwü'@'%' IDENTIFIED BY 'pässwörd';",
  `CREATE USER pwlong@'%' IDENTIFIED BY '${'x'.repeat(200)}';`,
  "CREATE USER lim@'%' IDENTIFIED BY 'pw';",
  'CREATE DATABASE `dü`;',
  'CREATE DATABASE `Db`;',
  'CREATE DATABASE `s/l`;',
  'CREATE DATABASE `d.t`;',
  'CREATE DATABASE visible;',
  'CREATE DATABASE hidden;',
  "GRANT ALL ON *.* TO 'ü'@'%', '用户'@'%', 'a.b'@'%';",
  "GRANT SELECT ON visible.* TO lim@'%';",
].join('\n');

before(async () => {
  // Many refusals from one address: the failed-login limit is not what this sweep is about.
  // Pooled modes keep a connection per login kind: more than the server's default 151 in all.
  t = await startModeProxies(SETUP, { proxyFlags: ['--max-auth-failures-per-minute', '1000000'], mariadbArgs: ['--max-connections=2000'] });
});
after(async () => {
  await t?.stop();
});

/** Logins compared at once: each waits on sockets and child processes most of its time. */
const AT_ONCE = 4;

/**
 * Each run directly and through every mode; fails listing every difference. A few
 * runs go at once (no login depends on another's), each one's own steps in order.
 */
async function sameAsDirect(runs: Array<{ name: string; run: (port: number) => Promise<string> }>): Promise<void> {
  const diffs: string[][] = runs.map(() => []);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < runs.length; i = next++) {
      const { name, run } = runs[i]!;
      const direct = await run(t.db.port);
      for (const mode of Object.keys(MODES)) {
        const proxied = await run(t.proxies.get(mode)!.port);
        if (proxied !== direct) diffs[i]!.push(`${name} ${mode}:\n    direct:  ${direct}\n    proxied: ${proxied}`);
      }
    }
  };
  await Promise.all(Array.from({ length: AT_ONCE }, worker));
  const all = diffs.flat();
  if (all.length > 0) assert.fail(`${all.length} differences:\n${all.join('\n')}`);
}

/** Every login with every client. */
function sameEverywhere(logins: Login[], clients = Object.keys(CLIENTS)): Promise<void> {
  return sameAsDirect(logins.flatMap((l) => clients.map((name) => ({ name: `${name} ${describeLogin(l)}`, run: (port: number) => CLIENTS[name]!(port, l) }))));
}

test('user names: UTF-8, case, spaces, dots, @, quotes, backslashes, wildcards, the longest and longer', async () => {
  await sameEverywhere([
    { user: '', password: '' },
    { user: '', password: 'x' },
    { user: 'ü', password: 'pw' },
    { user: 'ü', password: 'wrong' },
    { user: 'Ü', password: 'pw' },
    { user: '用户', password: 'pw' },
    { user: 'a😀', password: 'pw' },
    { user: '😀', password: 'pw' },
    { user: 'App', password: 'upper' },
    { user: 'app', password: 'upper' },
    { user: 'APP', password: 'upper' },
    { user: 'app ', password: 'app-secret' },
    { user: ' lead', password: 'pw' },
    { user: 'lead', password: 'pw' },
    { user: 'a.b', password: 'pw' },
    { user: 'a@b', password: 'pw' },
    { user: "q't", password: 'pw' },
    { user: "'app'", password: 'app-secret' },
    { user: 'b\\s', password: 'pw' },
    { user: 'p%', password: 'pw' },
    { user: 'px', password: 'pw' },
    { user: 'u_1', password: 'pw' },
    { user: 'ux1', password: 'pw' },
    { user: LONGEST, password: 'pw' },
    { user: LONGEST + 'u', password: 'pw' },
    { user: LONGEST + 'v', password: 'wrong' },
    { user: 'x'.repeat(300), password: 'pw' },
  ]);
});

test('user names in a latin1 handshake', async () => {
  await sameEverywhere([
    { user: 'ü', password: 'pw', charset: 'latin1_swedish_ci' },
    { user: 'ü', password: 'wrong', charset: 'latin1_swedish_ci' },
  ], ['mysql2', 'mariadb']);
});

test('passwords: none, long, non-ASCII', async () => {
  await sameEverywhere([
    { user: 'nopw', password: '' },
    { user: 'nopw', password: 'x' },
    { user: 'app', password: '' },
    { user: 'pwü', password: 'pässwörd' },
    { user: 'pwü', password: 'passwörd' },
    { user: 'pwlong', password: 'x'.repeat(200) },
    { user: 'pwlong', password: 'x'.repeat(199) },
  ]);
});

test('database names at login: UTF-8, case, slash, dot, hidden, unknown, too long, empty', async () => {
  await sameEverywhere([
    { user: 'app', password: 'app-secret', database: 'dü' },
    { user: 'app', password: 'app-secret', database: 'd😀' },
    { user: 'ü', password: 'pw', database: 'dü' },
    { user: 'app', password: 'app-secret', database: 'Db' },
    { user: 'app', password: 'app-secret', database: 'db' },
    { user: 'app', password: 'app-secret', database: 's/l' },
    { user: 'app', password: 'app-secret', database: 'd.t' },
    { user: 'lim', password: 'pw', database: 'visible' },
    { user: 'lim', password: 'pw', database: 'hidden' },
    { user: 'lim', password: 'pw', database: 'nosuch' },
    { user: 'app', password: 'app-secret', database: 'nosuch' },
    { user: 'app', password: 'app-secret', database: 'd'.repeat(65) },
    { user: 'app', password: 'app-secret', database: 'd'.repeat(300) },
    { user: 'app', password: 'wrong', database: 'hidden' },
  ]);
});

const hex = (h: string) => Buffer.from(h, 'hex');
const LATIN1 = 8;
const UTF8MB3 = 33;
const GBK = 28;

test('bytes no driver sends: names in latin1 and utf8mb3, invalid UTF-8, a NUL inside, a scramble of the wrong length', async () => {
  const cases: Array<Omit<WireLogin, 'port'>> = [
    // An empty password sends a one-byte answer here: neither none nor a scramble.
    { user: hex(''), password: '' },
    { user: hex(''), password: 'x' },
    { user: Buffer.from('app'), password: '' },
    { user: Buffer.from('nosuch'), password: '' },
    { user: Buffer.from('app\0junk'), password: 'app-secret' },
    { user: Buffer.from('app\0'), password: 'app-secret' },
    { user: Buffer.from('ü'), password: 'pw' },
    { user: hex('fc'), password: 'pwq' },
    { user: hex('e4b8'), password: 'pwq' },
    { user: hex('fc'), password: 'pw', charset: LATIN1 },
    { user: hex('80'), password: 'pw', charset: LATIN1 },
    { user: hex('c3bc'), password: 'pw', charset: LATIN1 },
    { user: hex('f09f9880'), password: 'pw', charset: UTF8MB3 },
    { user: hex('fc'), password: 'pw', charset: 63 },
    // Refusals naming a non-ASCII user, in the client's character set: the message's bytes compared.
    { user: hex('fc'), password: 'wrong', charset: LATIN1 },
    { user: hex('fc'), password: 'wrong', charset: 63 },
    { user: hex('80'), password: 'wrong', charset: LATIN1 },
    { user: Buffer.from('用户'), password: 'wrong' },
    // A collation the server does not know: its default character set; ASCII reads the same in any.
    { user: Buffer.from('app'), password: 'app-secret', charset: 0 },
    { user: Buffer.from('app'), password: 'app-secret', database: Buffer.from('dü') },
    { user: Buffer.from('app'), password: 'app-secret', database: hex('64fc'), charset: LATIN1 },
    { user: Buffer.from('app'), password: 'app-secret', database: hex('64c3bcfc') },
    { user: Buffer.from('app'), password: 'wrong', database: hex('fc41') },
    { user: Buffer.from('app'), password: 'app-secret', database: Buffer.concat([Buffer.from('d'.repeat(70)), hex('fc')]) },
    { user: Buffer.from('app'), password: 'app-secret', database: hex('f09f9880'), charset: UTF8MB3 },
    { user: Buffer.from('app'), password: 'app-secret', database: hex('') },
    { user: Buffer.from('app'), password: 'app-secret', charset: GBK },
  ];
  await sameAsDirect(
    cases.map((c) => ({
      name: `bare ${c.user.toString('hex')} ${c.password} ${c.charset ?? ''} ${c.database?.toString('hex') ?? ''}`,
      run: async (port: number) => JSON.stringify(await wireLogin({ port, ...c })),
    })),
  );
});

test('a name in a character set the proxy does not read: refused, saying so', async () => {
  for (const mode of Object.keys(MODES)) {
    const out = await wireLogin({ port: t.proxies.get(mode)!.port, user: hex('fc'), password: 'pw', charset: GBK });
    assert.deepEqual(out, { kind: 'error', code: 1043, message: 'Bad handshake: the user name is not ASCII in character set #28, which wake-proxy does not read' }, mode);
  }
});

/** Collation ids below 256 (what a handshake can name) whose character set no client may use, by the server's own table. */
async function serverRefusedCollations(): Promise<Map<number, string>> {
  const conn = await mysql.createConnection({ host: '127.0.0.1', port: t.db.port, user: 'app', password: 'app-secret' });
  try {
    const [rows] = await conn.query("SELECT ID, CHARACTER_SET_NAME FROM information_schema.COLLATIONS WHERE ID < 256 AND CHARACTER_SET_NAME IN ('ucs2', 'utf16', 'utf16le', 'utf32')");
    return new Map((rows as Array<{ ID: number; CHARACTER_SET_NAME: string }>).map((r) => [Number(r.ID), r.CHARACTER_SET_NAME]));
  } finally {
    await conn.end();
  }
}

test("the proxy's list of character sets no client may use is the server's", async () => {
  const server = await serverRefusedCollations();
  assert.ok(server.size > 50, `${server.size} collations`);
  for (let id = 0; id < 256; id++) assert.equal(refusedClientCharset(id), server.get(id) ?? null, `collation #${id}`);
});

/** A HandshakeResponse41 of `length` bytes: the 32-byte prefix naming `charset` (or less of it), nothing after. */
function prefixOnly(charset: number, length: number): Buffer {
  const b = Buffer.alloc(length);
  b.writeUInt32LE(CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH, 0);
  b.writeUInt32LE(1 << 24, 4);
  b[8] = charset;
  return b;
}

test("ucs2, utf16, utf16le, utf32 handshakes: the server's 1231 whatever the login, byte for byte, by drivers and bare", async () => {
  // A few of each character set: its first and last ids below 256.
  const ids = [35, 159, 54, 124, 56, 62, 60, 183];
  const logins: Array<Omit<WireLogin, 'port' | 'charset'> & { prefix?: number }> = [
    { user: Buffer.from('app'), password: 'app-secret' },
    { user: Buffer.from('app'), password: 'app-secret', database: Buffer.from('visible') },
    { user: Buffer.from('app'), password: 'wrong' },
    { user: Buffer.from('nosuch'), password: 'x' },
    // What is refused otherwise (a one-byte answer, a name not ASCII, a database no character set reads): the character set first.
    { user: Buffer.from('app'), password: '' },
    { user: hex('fc'), password: 'pw' },
    { user: Buffer.from('app'), password: 'app-secret', database: hex('64fc') },
    // The 32-byte prefix alone, and one byte short of it (the server's bare Bad handshake).
    { user: Buffer.from('app'), password: 'app-secret', prefix: 32 },
    { user: Buffer.from('app'), password: 'app-secret', prefix: 31 },
  ];
  await sameAsDirect(
    ids.flatMap((charset) =>
      logins.map(({ prefix, ...l }) => ({
        name: `bare #${charset} ${l.user.toString('hex')} ${l.password} ${l.database?.toString('hex') ?? ''} ${prefix ?? ''}`,
        run: async (port: number) =>
          JSON.stringify(await wireLogin({ port, ...l, charset, exact: true, ...(prefix ? { rawResponse: () => prefixOnly(charset, prefix) } : {}) })),
      })),
    ),
  );
  // Not vacuous: the server refused each with its 1231 (SQLSTATE 42000) at sequence id 2.
  for (const charset of ids) {
    const out = await wireLogin({ port: t.db.port, user: Buffer.from('app'), password: 'app-secret', charset, exact: true });
    const name = refusedClientCharset(charset)!;
    const expected = Buffer.concat([hex('ffcf0423'), Buffer.from(`42000Variable 'character_set_client' can't be set to the value of '${name}'`)]);
    assert.deepEqual(out, { kind: 'error', code: 1231, message: expected.subarray(9).toString(), packet: `2:${expected.toString('hex')}` }, `#${charset}`);
  }
  await sameEverywhere(['ucs2_general_ci', 'utf16_general_ci', 'utf16le_general_ci', 'utf32_general_ci'].map((charset) => ({ user: 'app', password: 'app-secret', charset })));
});
