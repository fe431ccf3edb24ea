// A statement sent in the same write as COM_QUIT (or pipelined ahead of it) gets its
// reply before the connection closes, as MariaDB answers and then closes. The bytes a
// raw client receives after login are compared, directly and through the proxy in
// every mode, and the statement's effect is checked on the compute.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { framePacket, writeComQuit } from '../../protocol/index.js';
import type { StandaloneMariadb } from '../helpers/standalone-mariadb.js';
import type { ProxyProcess } from '../helpers/proxy-process.js';
import { MODES, startModeProxies, type ModeProxies } from '../helpers/mode-proxies.js';
import { wireSession } from '../helpers/wire-login.js';
import { exchange, query } from '../helpers/wire-exchange.js';
import { appliedOnceEachWay, differencesFromDirect, pooledThread, rowsWith } from '../helpers/mode-comparison.js';

let db: StandaloneMariadb;
let proxies: Map<string, ProxyProcess>;
let stack: ModeProxies | undefined;

before(async () => {
  stack = await startModeProxies('CREATE DATABASE q;\nCREATE TABLE q.t (v VARCHAR(40));');
  ({ db, proxies } = stack);
});
after(async () => {
  await stack?.stop();
});

const QUIT = framePacket(writeComQuit(), 0);

const CASES: Array<{ name: string; writes: (marker: string) => Array<Buffer | number> }> = [
  { name: 'an INSERT and COM_QUIT in one write', writes: (m) => [Buffer.concat([query(`INSERT INTO q.t VALUES ('${m}')`), QUIT])] },
  { name: 'a SELECT and COM_QUIT in one write', writes: (m) => [Buffer.concat([query(`SELECT '${m}' AS v, SLEEP(0.1) AS s`), QUIT])] },
  {
    name: 'three statements (a transaction among them) pipelined ahead of COM_QUIT, in separate writes',
    writes: (m) => [query('BEGIN'), query(`INSERT INTO q.t VALUES ('${m}')`), query('COMMIT'), QUIT],
  },
  {
    // Transaction mode relays a session that set a user variable untracked (pinned).
    name: 'a session pinned by a user variable, then a SELECT and COM_QUIT in one write',
    writes: (m) => [query("SET @pin = 1"), 200, Buffer.concat([query(`SELECT '${m}' AS v, SLEEP(0.1) AS s`), QUIT])],
  },
  {
    // A command whose reply transaction pooling does not know (COM_FIELD_LIST) leaves the session relayed untracked.
    name: 'a session pinned by a command, then a SELECT and COM_QUIT in one write',
    writes: (m) => [
      framePacket(Buffer.from('\x02q', 'latin1'), 0), // COM_INIT_DB q
      framePacket(Buffer.from('\x04t\x00', 'latin1'), 0), // COM_FIELD_LIST t
      200,
      Buffer.concat([query(`SELECT '${m}' AS v, SLEEP(0.1) AS s`), QUIT]),
    ],
  },
  {
    name: 'a statement that pins, pipelined with a SELECT and COM_QUIT in one write',
    writes: (m) => [Buffer.concat([query("SET @pin = 1"), query(`SELECT '${m}' AS v, SLEEP(0.2) AS s`), QUIT])],
  },
];

for (const c of CASES) {
  test(`${c.name}: the reply arrives before the close, as directly`, async () => {
    const direct = await exchange(db.port, c.writes('direct'));
    assert.ok(direct.length > 0, 'the server answers');
    const check = c.name.includes('INSERT') ? appliedOnceEachWay(db) : undefined;
    assert.deepEqual(await differencesFromDirect(db, proxies, c.writes, {}, check), []);
  });
}

test('session mode: the connection a quitting client pipelined on is reset and lent again', async () => {
  const { port } = proxies.get('session')!;
  const before = await pooledThread(port);
  await exchange(port, [Buffer.concat([query('SELECT SLEEP(0.05)'), query("SET @left = 'behind'"), QUIT])]);
  assert.equal(await pooledThread(port), before);
});

test('a client that closes right after its statement and COM_QUIT (as libmariadb closes) still has its statement run to the end', async () => {
  const modes = ['direct', ...Object.keys(MODES)];
  for (const mode of modes) {
    const port = mode === 'direct' ? db.port : proxies.get(mode)!.port;
    const marker = `closed after quit, ${mode}`;
    const { outcome, socket } = await wireSession({ port, user: Buffer.from('app'), password: 'app-secret' });
    assert.equal(outcome.kind, 'ok');
    socket.write(Buffer.concat([query(`INSERT INTO q.t SELECT '${marker}' FROM (SELECT SLEEP(0.3)) s`), QUIT]));
    await new Promise((r) => setTimeout(r, 50));
    socket.destroy();
  }
  await new Promise((r) => setTimeout(r, 1_000));
  for (const mode of modes) assert.equal(await rowsWith(db, `closed after quit, ${mode}`), 1, mode);
});
