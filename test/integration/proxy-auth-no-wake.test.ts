// No login wakes a compute unless its password is right: user names that are not path
// segments, accounts no proxied login can pass, a control API that is down or answers
// junk, clients that hang up at the auth switch. Every refusal is checked against the
// compute's own record: its state and resume count stay as they were.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import mysql from 'mysql2/promise';
import { startStack, type ProjectCredentials, type Stack } from '../helpers/stack.js';
import { mariadbCli } from '../helpers/clients.js';
import { wireLogin } from '../helpers/wire-login.js';
import { startProxy, type ProxyServer } from '../../proxy/server.js';
import { createControlApiVerifiers } from '../../control-client/control-api-verifiers.js';
import { testLogger } from '../helpers/logger.js';

let stack: Stack;
let shop: ProjectCredentials;
let junkApi: Server;
let junkUrl: string;
/** What the junk control API answers next: [status, body text]. */
let junkAnswer: [number, string] = [200, '{}'];
const extra: ProxyServer[] = [];

before(async () => {
  stack = await startStack({ cacheTtlMs: 100, verify: { ttlMs: 200 } });
  shop = await stack.createProject('shop');
  const owner = await mysql.createConnection({ host: '127.0.0.1', port: stack.proxy.port, user: `shop.${shop.user}`, password: shop.password });
  await owner.query("CREATE USER old@'%' IDENTIFIED BY PASSWORD '1234567890abcdef'");
  await owner.query("CREATE USER sock@'%' IDENTIFIED VIA unix_socket");
  await owner.end();
  junkApi = createServer((_req, res) => {
    res.writeHead(junkAnswer[0], { 'content-type': 'application/json' });
    res.end(junkAnswer[1]);
  });
  await new Promise<void>((r) => junkApi.listen(0, '127.0.0.1', r));
  junkUrl = `http://127.0.0.1:${(junkApi.address() as AddressInfo).port}`;
  await stack.suspend(shop.computeId, 'stop'); // accounts are read before the suspend
});

after(async () => {
  for (const p of extra) await p.close();
  await new Promise<void>((r) => junkApi?.close(() => r()));
  await stack?.close();
});

/** Runs `attempt`, then checks the compute neither woke nor is waking. */
async function staysAsleep(attempt: () => Promise<void>): Promise<void> {
  const before = await stack.compute(shop.computeId);
  assert.equal(before.state, 'stopped');
  await attempt();
  const after = await stack.compute(shop.computeId);
  assert.equal(after.state, 'stopped', 'the compute was woken');
  assert.equal(after.resumeCount, before.resumeCount, 'the compute was resumed');
}

/** Another proxy on the stack's control plane, with its own verifier source and limits. */
async function proxyWith(verifierUrl: string | null, maxAuthFailuresPerMinute?: number): Promise<ProxyServer> {
  const verifiers = verifierUrl ? createControlApiVerifiers({ url: verifierUrl, ttlMs: 0, timeoutMs: 1_000, maxStaleMs: 0 }) : undefined;
  const proxy = await startProxy({
    host: '127.0.0.1',
    port: 0,
    resolver: stack.resolver,
    logger: testLogger(),
    ...(verifiers ? { verifiers } : {}),
    ...(maxAuthFailuresPerMinute ? { limits: { maxAuthFailuresPerMinute } } : {}),
  });
  extra.push(proxy);
  return proxy;
}

test("user names are data: '..', '%2e%2e', slashes, NUL, long, unicode and invalid UTF-8 are refused unwoken", async () => {
  const names = ['..', '.', '...', '%2e%2e', '%2E%2E/', 'a/b', '../roles', '/', '?user=owner', '#', 'x'.repeat(300), 'ünï😀', ''];
  await staysAsleep(async () => {
    for (const name of names) {
      await assert.rejects(
        mysql.createConnection({ host: '127.0.0.1', port: stack.proxy.port, user: `shop.${name}`, password: 'wrong' }),
        (err: any) => err.errno === 1045,
        `user ${JSON.stringify(name)}`,
      );
    }
    const cli = await mariadbCli(stack.proxy.port, 'shop...', 'wrong', 'SELECT 1');
    assert.match(cli.stderr, /ERROR 1045/);
    for (const raw of [Buffer.from([0xff, 0xfe]), Buffer.from('..\u0000owner'), Buffer.from([0xc0, 0xae, 0xc0, 0xae])]) {
      const out = await wireLogin({ port: stack.proxy.port, user: Buffer.concat([Buffer.from('shop.'), raw]), password: 'wrong' });
      assert.equal(out.kind, 'error', JSON.stringify(out));
      // A NUL inside the name ends it early and leaves the rest unparseable: 1043.
      assert.ok([1045, 1043].includes((out as { code: number }).code), `${raw.toString('hex')}: ${JSON.stringify(out)}`);
    }
  });
});

test('root (unix_socket or an invalid hash) and unix_socket accounts get 1698, old hashes 1275, unwoken', async () => {
  await staysAsleep(async () => {
    // root@localhost admits no TCP client of a compute that resolves no names: to it, root from 127.0.0.1 is unknown.
    for (const [password, using] of [['', 'NO'], ['anything', 'YES']]) {
      const root = await mariadbCli(stack.proxy.port, 'shop.root', password!, 'SELECT 1');
      assert.match(root.stderr, new RegExp(`ERROR 1045 \\(28000\\).*Access denied for user 'root'@'127\\.0\\.0\\.1' \\(using password: ${using}\\)`));
    }
    await assert.rejects(
      mysql.createConnection({ host: '127.0.0.1', port: stack.proxy.port, user: 'shop.sock', password: 'x' }),
      (err: any) => err.errno === 1698,
    );
    const old = await mariadbCli(stack.proxy.port, 'shop.old', 'whatever', 'SELECT 1');
    assert.match(old.stderr, /ERROR 1275 .*'old'@'127\.0\.0\.1' has a password in the old format/);
  });
});

test('a control API that is down gets 1429 "cannot verify", not 1045 and not a wake', async () => {
  const proxy = await proxyWith('http://127.0.0.1:1');
  await staysAsleep(async () => {
    await assert.rejects(
      mysql.createConnection({ host: '127.0.0.1', port: proxy.port, user: `shop.${shop.user}`, password: shop.password }),
      (err: any) => err.errno === 1429 && /cannot verify logins to project 'shop'/.test(err.message),
    );
  });
});

test('a control API answering junk never leads to a wake or passthrough', async () => {
  const proxy = await proxyWith(junkUrl);
  const answers: Array<[number, string]> = [
    [200, '{}'],
    [200, 'null'],
    [200, 'not json'],
    [200, `{"user":"${shop.user}"}`],
    [200, `{"user":"someone-else","plugin":"mysql_native_password","verifier":""}`],
    [200, `{"user":"${shop.user}","plugin":"mysql_native_password","verifier":"*00"}`],
    [200, `{"user":"${shop.user}","plugin":"mysql_native_password","verifier":{"x":1}}`],
    [404, '{"error":{"code":"not_found"}}'],
    [404, ''],
    [500, '{"error":{"code":"role_not_found"}}'],
    [301, ''],
    [200, `{"user":"${shop.user}","plugin":"unix_socket"}`],
    [200, `{"user":"${shop.user}","plugin":"mysql_old_password"}`],
    [200, `{"user":"${shop.user}","plugin":"mysql_native_password"}`],
  ];
  await staysAsleep(async () => {
    for (const answer of answers) {
      junkAnswer = answer;
      await assert.rejects(
        mysql.createConnection({ host: '127.0.0.1', port: proxy.port, user: `shop.${shop.user}`, password: shop.password }),
        (err: any) => [1045, 1429, 1698, 1275].includes(err.errno),
        `answer ${answer.join(' ')}`,
      );
    }
  });
});

test('clients that hang up at the auth switch count as failed logins', async () => {
  const proxy = await proxyWith(stack.cp.url, 5);
  await staysAsleep(async () => {
    for (let i = 0; i < 5; i++) {
      const out = await wireLogin({ port: proxy.port, user: Buffer.from(`shop.${shop.user}`), password: 'x', plugin: 'client_ed25519', hangUpAtSwitch: true });
      assert.deepEqual(out, { kind: 'hung_up', plugin: 'mysql_native_password' });
    }
    const blocked = await wireLogin({ port: proxy.port, user: Buffer.from(`shop.${shop.user}`), password: shop.password });
    assert.equal(blocked.kind, 'error');
    assert.equal((blocked as { code: number }).code, 1129);
  });
});

test('passthrough clients that hang up at the compute auth switch count too', async () => {
  const proxy = await proxyWith(null, 3);
  for (let i = 0; i < 3; i++) {
    const out = await wireLogin({ port: proxy.port, user: Buffer.from(`shop.${shop.user}`), password: 'x', hangUpAtSwitch: true });
    assert.equal(out.kind, 'hung_up');
  }
  const blocked = await wireLogin({ port: proxy.port, user: Buffer.from(`shop.${shop.user}`), password: shop.password });
  assert.equal((blocked as { code: number }).code, 1129);
});
