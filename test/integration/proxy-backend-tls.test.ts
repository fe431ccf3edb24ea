// TLS from the proxy to the compute: the relayed session and the proxy's own
// (pool) logins run encrypted; a compute without TLS is a clear error.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { startStandaloneMariadb, type StandaloneMariadb } from '../helpers/standalone-mariadb.js';
import { makeCert } from '../helpers/certs.js';
import { testLogger } from '../helpers/logger.js';
import { keyFor, scalar } from './pool-support.js';
import { createStaticResolver } from '../../control-client/static-resolver.js';
import { startProxy, type ProxyServer } from '../../proxy/server.js';
import { loginBackend } from '../../backend/login.js';
import { nativePasswordStage1 } from '../../protocol/index.js';
import type { BackendTlsOptions } from '../../backend/connect.js';

let certDir: string;
let secureDb: StandaloneMariadb;
let plainDb: StandaloneMariadb;
let verify: BackendTlsOptions;
const proxies: ProxyServer[] = [];

before(async () => {
  certDir = await mkdtemp(join(tmpdir(), 'wake-proxy-backend-certs-'));
  const cert = await makeCert(certDir, 'compute', 'compute.local');
  verify = { rejectUnauthorized: true, ca: await readFile(cert.certFile) };
  [secureDb, plainDb] = await Promise.all([
    startStandaloneMariadb('app', 'app-secret', '', [`--ssl-cert=${cert.certFile}`, `--ssl-key=${cert.keyFile}`]),
    startStandaloneMariadb(),
  ]);
});
after(async () => {
  await Promise.all(proxies.map((p) => p.close()));
  await Promise.all([secureDb?.stop(), plainDb?.stop()]);
  await rm(certDir, { recursive: true, force: true });
});

async function proxyTo(db: StandaloneMariadb, backendTls: BackendTlsOptions): Promise<ProxyServer> {
  const p = await startProxy({
    host: '127.0.0.1',
    port: 0,
    resolver: createStaticResolver({ host: db.host, port: db.port }),
    routing: { projectOptional: true },
    backendTls,
    logger: testLogger(),
  });
  proxies.push(p);
  return p;
}

test('a passthrough session runs over TLS to the compute, certificate checked', async () => {
  const p = await proxyTo(secureDb, verify);
  const conn = await mysql.createConnection({ host: '127.0.0.1', port: p.port, user: 'app', password: 'app-secret' });
  const [rows] = await conn.query("SHOW SESSION STATUS LIKE 'Ssl_version'");
  assert.match((rows as any[])[0].Value, /^TLSv1\.[23]$/);
  await assert.rejects(
    mysql.createConnection({ host: '127.0.0.1', port: p.port, user: 'app', password: 'wrong' }),
    (err: any) => err.errno === 1045,
  );
  await conn.end();
});

test("the proxy's own login (verified auth, pools) runs over TLS too", async () => {
  const backend = await loginBackend(keyFor(secureDb), nativePasswordStage1('app-secret'), { timeoutMs: 5_000, tls: verify });
  const target = { socket: backend.socket, capabilities: keyFor(secureDb).capabilities, mariadbCapabilities: 0 };
  assert.equal(await scalar(target, 'SELECT 1'), '1');
  assert.match((await scalar(target, "SELECT VARIABLE_VALUE FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME = 'SSL_CIPHER'")) ?? '', /\S/);
  backend.socket.destroy();
});

test('a compute without TLS, or with a certificate the CA did not sign, is a clear error', async () => {
  const noTls = await proxyTo(plainDb, { rejectUnauthorized: false });
  await assert.rejects(
    mysql.createConnection({ host: '127.0.0.1', port: noTls.port, user: 'app', password: 'app-secret' }),
    (err: any) => err.errno === 1429 && /does not offer TLS/.test(err.message),
  );
  const other = await makeCert(certDir, 'other', 'other.local');
  const wrongCa = await proxyTo(secureDb, { rejectUnauthorized: true, ca: await readFile(other.certFile) });
  await assert.rejects(
    mysql.createConnection({ host: '127.0.0.1', port: wrongCa.port, user: 'app', password: 'app-secret' }),
    (err: any) => err.errno === 1429 && /TLS to compute/.test(err.message),
  );
});
