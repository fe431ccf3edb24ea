// A client that goes away mid-statement takes its statement with it: the proxy stops
// it on the compute (KILL QUERY on a connection of its own) before it closes or
// returns the compute connection, in every pool mode, with and without TLS to the
// compute (where a close alert left unread would make the compute believe the client
// is still there). Gone means its connection reset: a FIN alone may come from a client
// that half-closed and waits for its reply (half-close.test.ts), as MariaDB assumes too.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import { startStandaloneMariadb, type StandaloneMariadb } from '../helpers/standalone-mariadb.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { makeCert } from '../helpers/certs.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';
import { testLogger } from '../helpers/logger.js';
import { MODES, READER, READER_SQL, startModeProxy } from '../helpers/mode-proxies.js';
import { startProxy, type ProxyServer } from '../../proxy/server.js';
import { createControlApiKill } from '../../control-client/control-api-kill.js';
import { stopperWithAccount } from '../../proxy/kill/session-kill.js';
import { nativePasswordStage1 } from '../../protocol/index.js';
import type { BackendTlsOptions } from '../../backend/connect.js';

const SLEEP = 'SELECT SLEEP(600)';

let certs: TempDir;
let db: StandaloneMariadb;
let admin: mysql.Connection;
const closers: Array<() => Promise<unknown>> = [];

before(async () => {
  certs = await makeTempDir('wake-proxy-kill-certs-');
  const cert = await makeCert(certs.path, 'compute', 'compute.local');
  db = await startStandaloneMariadb(
    'app',
    'app-secret',
    `${READER_SQL}\nGRANT CONNECTION ADMIN ON *.* TO '${READER.user}'@'%';`,
    [`--ssl-cert=${cert.certFile}`, `--ssl-key=${cert.keyFile}`],
  );
  admin = await mysql.createConnection({ host: db.host, port: db.port, user: db.user, password: db.password });
});
after(async () => {
  await admin?.end();
  for (const close of closers.reverse()) await close();
  await db?.stop();
  await certs?.remove();
});

/** A proxy in front of the static backend; passthrough clients' statements are stopped with the reader account. */
async function proxyFor(mode: string, backendTls: BackendTlsOptions | undefined, stopPassthrough = true): Promise<ProxyServer> {
  const { proxy, stop } = await startModeProxy(mode, { host: db.host, port: db.port }, {
    ...(backendTls ? { backendTls } : {}),
    kill: stopPassthrough
      ? { stopPassthrough: stopperWithAccount({ user: READER.user, stage1: nativePasswordStage1(READER.password) }, { timeoutMs: 5_000, ...(backendTls ? { tls: backendTls } : {}) }) }
      : {},
  });
  closers.push(stop);
  return proxy;
}

/** How many SLEEP(600)s the compute runs. */
async function sleeping(): Promise<number> {
  const [rows] = await admin.query('SELECT ID FROM information_schema.PROCESSLIST WHERE INFO = ?', [SLEEP]);
  return (rows as unknown[]).length;
}

/**
 * A client starts SLEEP(600) and vanishes; resolves with how long the compute kept
 * running it. The compute connection is TLS when `tls` (the session's status, read on it, says so).
 */
async function leaveMidStatement(port: number, tls: boolean): Promise<number> {
  const client = await mysql.createConnection({ host: '127.0.0.1', port, user: 'app', password: 'app-secret' });
  const [[row]] = (await client.query("SHOW SESSION STATUS LIKE 'Ssl_version'")) as any;
  if (tls) assert.match(row.Value, /^TLSv1\.[23]$/);
  else assert.equal(row.Value, '');
  client.query(SLEEP).catch(() => undefined);
  const deadline = Date.now() + 5_000;
  while ((await sleeping()) === 0) {
    if (Date.now() > deadline) throw new Error('the statement never started');
    await new Promise((r) => setTimeout(r, 20));
  }
  // Gone as a client killed with bytes unread, or a network failure: no COM_QUIT, the connection resets.
  (client as any).connection.stream.resetAndDestroy();
  const gone = Date.now();
  while ((await sleeping()) > 0 && Date.now() - gone < 10_000) await new Promise((r) => setTimeout(r, 20));
  return Date.now() - gone;
}

for (const tls of [false, true]) {
  describe(`a client killed mid-statement, ${tls ? 'TLS' : 'plain TCP'} to the compute`, () => {
    const backendTls: BackendTlsOptions | undefined = tls ? { rejectUnauthorized: false } : undefined;
    for (const mode of Object.keys(MODES)) {
      test(`${mode}: the compute's processlist is clear within 2 s`, async () => {
        const proxy = await proxyFor(mode, backendTls);
        const ms = await leaveMidStatement(proxy.port, tls);
        assert.ok(ms < 2_000, `the statement ran on for ${ms} ms`);
        assert.equal(await sleeping(), 0);
      });
    }

    test('passthrough with nobody to stop the statement: the close alone is noticed (SLEEP checks every 5 s)', async () => {
      const proxy = await proxyFor('pipe (passthrough)', backendTls, false);
      const ms = await leaveMidStatement(proxy.port, tls);
      assert.ok(ms < 7_000, `the statement ran on for ${ms} ms`);
    });
  });
}

describe('passthrough in front of a control plane', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack();
  });
  after(() => stack?.close());

  test("the control plane's account stops a passthrough client's statement", async () => {
    const p = await stack.createProject('shop');
    const proxy = await startProxy({
      host: '127.0.0.1',
      port: 0,
      resolver: stack.resolver,
      logger: testLogger(),
      kill: { stopPassthrough: createControlApiKill({ url: stack.cp.url }) },
    });
    closers.push(() => proxy.close());
    const c = await stack.compute(p.computeId);
    const owner = await mysql.createConnection({ host: c.host, port: c.port, user: p.user, password: p.password });
    const client = await mysql.createConnection({ host: '127.0.0.1', port: proxy.port, user: `shop.${p.user}`, password: p.password });
    client.query(SLEEP).catch(() => undefined);
    const running = async () => ((await owner.query('SELECT ID FROM information_schema.PROCESSLIST WHERE INFO = ?', [SLEEP]))[0] as unknown[]).length;
    while ((await running()) === 0) await new Promise((r) => setTimeout(r, 20));
    (client as any).connection.stream.resetAndDestroy();
    const gone = Date.now();
    while ((await running()) > 0 && Date.now() - gone < 10_000) await new Promise((r) => setTimeout(r, 20));
    assert.ok(Date.now() - gone < 2_000, `the statement ran on for ${Date.now() - gone} ms`);
    await owner.end();
  });

  test('the kill-query route checks what it is given', async () => {
    const p = await stack.createProject('other');
    assert.equal((await stack.api('POST', `/api/v1/compute/${p.computeId}/kill-query`, { thread: 'x' })).status, 400);
    assert.equal((await stack.api('POST', '/api/v1/compute/nope/kill-query', { thread: 5 })).status, 404);
    assert.deepEqual((await stack.api('POST', `/api/v1/compute/${p.computeId}/kill-query`, { thread: 999_999 })).body, { killed: false });
    await stack.suspend(p.computeId, 'stop');
    assert.equal((await stack.api('POST', `/api/v1/compute/${p.computeId}/kill-query`, { thread: 5 })).status, 409);
  });
});
