// TLS on the client side: upgrade after SSLRequest, SNI routing, --require-tls,
// certificate reload without dropping sessions, and a stalled TLS client.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { startStack, type ProjectCredentials, type Stack } from '../helpers/stack.js';
import { mariadbCli } from '../helpers/clients.js';
import { installCert, makeCert, makeLiveCert, presentedCn, type CertFiles } from '../helpers/certs.js';
import { testLogger } from '../helpers/logger.js';
import { TlsContextHolder } from '../../proxy/tls-context.js';
import { startProxy, type ProxyServer } from '../../proxy/server.js';

let stack: Stack;
let shop: ProjectCredentials;
let other: ProjectCredentials;
let certDir: string;
let live: CertFiles;
let tls: TlsContextHolder;
let strict: ProxyServer;

before(async () => {
  certDir = await mkdtemp(join(tmpdir(), 'wake-proxy-certs-'));
  live = await makeLiveCert(certDir, 'first.db.example.com');
  tls = new TlsContextHolder(live, testLogger());
  stack = await startStack({ proxy: { tls, routing: { sniSuffix: 'db.example.com' }, handshakeTimeoutMs: 800 } });
  shop = await stack.createProject('shop');
  other = await stack.createProject('other');
  strict = await startProxy({
    host: '127.0.0.1',
    port: 0,
    resolver: stack.resolver,
    tls,
    requireTls: true,
    logger: testLogger(),
  });
});

after(async () => {
  await strict?.close();
  await stack?.close();
  await rm(certDir, { recursive: true, force: true });
});

const ssl = { rejectUnauthorized: false };

test('mariadb --ssl connects over TLS through the proxy', async () => {
  const res = await mariadbCli(stack.proxy.port, `shop.${shop.user}`, shop.password, 'status', ['--ssl']);
  assert.equal(res.code, 0, res.stderr);
  assert.match(res.stdout, /SSL:\s+Cipher in use is \S+/);
});

test('mysql2 with ssl queries through the proxy', async () => {
  const conn = await mysql.createConnection({
    host: '127.0.0.1',
    port: stack.proxy.port,
    user: `shop.${shop.user}`,
    password: shop.password,
    ssl,
  });
  const [rows] = await conn.query('SELECT 1 AS one');
  assert.equal((rows as any[])[0].one, 1);
  await conn.end();
});

function sniConnection(servername: string, user: string, password: string) {
  // A stream to loopback with `host` set to the server name: mysql2 sends it as SNI.
  return mysql.createConnection({
    stream: connect(stack.proxy.port, '127.0.0.1'),
    host: servername,
    user,
    password,
    ssl,
  });
}

test('the TLS server name routes a plain user name to its project', async () => {
  const conn = await sniConnection('other.db.example.com', other.user, other.password);
  await conn.query('CREATE DATABASE IF NOT EXISTS marker_other');
  const [rows] = await conn.query("SHOW DATABASES LIKE 'marker_other'");
  assert.equal((rows as any[]).length, 1);
  await conn.end();
  // The same plain name through shop's server name lands in shop, which lacks the marker.
  const shopConn = await sniConnection('shop.db.example.com', shop.user, shop.password);
  const [none] = await shopConn.query("SHOW DATABASES LIKE 'marker_other'");
  assert.equal((none as any[]).length, 0);
  await shopConn.end();
});

test('a server name and a user name naming different projects get an error saying so', async () => {
  await assert.rejects(sniConnection('shop.db.example.com', `other.${other.user}`, other.password), (err: any) => {
    assert.equal(err.errno, 1045);
    assert.match(err.message, /server name names project 'shop' but the user name names project 'other'/);
    return true;
  });
});

test('--require-tls refuses a plaintext login with a clear error', async () => {
  const res = await mariadbCli(strict.port, `shop.${shop.user}`, shop.password, 'SELECT 1', ['--skip-ssl']);
  assert.notEqual(res.code, 0);
  assert.match(res.stderr, /3159/);
  assert.match(res.stderr, /requires TLS/);
  const ok = await mariadbCli(strict.port, `shop.${shop.user}`, shop.password, 'SELECT 2', ['--ssl']);
  assert.equal(ok.code, 0, ok.stderr);
});

test('a reloaded certificate serves new clients while a connected one keeps going', async () => {
  const conn = await mysql.createConnection({
    host: '127.0.0.1',
    port: stack.proxy.port,
    user: `shop.${shop.user}`,
    password: shop.password,
    ssl,
  });
  assert.equal(await presentedCn(stack.proxy.port), 'first.db.example.com');
  await installCert(await makeCert(certDir, 'second', 'second.db.example.com'), live);
  assert.equal(tls.reload(), true);
  assert.equal(await presentedCn(stack.proxy.port), 'second.db.example.com');
  const [rows] = await conn.query('SELECT 5 AS five');
  assert.equal((rows as any[])[0].five, 5);
  await conn.end();
});

test('a TLS client that stalls mid-handshake is dropped on time', async () => {
  const s = connect(stack.proxy.port, '127.0.0.1');
  s.on('error', () => {});
  await once(s, 'data'); // the greeting
  // SSLRequest (CLIENT_SSL | PROTOCOL_41 | SECURE_CONNECTION | PLUGIN_AUTH), then silence.
  const caps = 0x00088a00;
  const body = Buffer.alloc(32);
  body.writeUInt32LE(caps, 0);
  body.writeUInt32LE(1 << 24, 4);
  body[8] = 45;
  s.write(Buffer.concat([Buffer.from([32, 0, 0, 1]), body]));
  const started = Date.now();
  await once(s, 'close');
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 600 && elapsed < 3_000, `dropped after ${elapsed} ms`);
});
