// Every command validates its flags and environment at start, with one clear
// message per bad value, and --help lists flags with defaults.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const MAIN = fileURLToPath(new URL('../../cli/main.js', import.meta.url));

async function cli(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await run(process.execPath, [MAIN, ...args], {
      timeout: 15_000,
      env: { PATH: process.env.PATH, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

test('--help lists every flag with its default and environment variable', async () => {
  const res = await cli(['proxy', '--help']);
  assert.equal(res.code, 0);
  for (const needle of ['--port', 'WAKE_PROXY_PORT', '(default: 3306)', '--control-url', '--backend', '--drain-timeout',
    '--auth', '--pool-mode', '--tls-cert', '--backend-tls', '--redis', '--max-connections']) {
    assert.ok(res.stdout.includes(needle), `help mentions ${needle}`);
  }
  const top = await cli([]);
  assert.match(top.stdout, /Commands:/);
});

test('bad values each get their own message, from flags and from the environment', async () => {
  const res = await cli(['proxy', '--port', '70000', '--wake-timeout', 'soon', '--backend', 'nohostport'], {
    WAKE_PROXY_LOG_LEVEL: 'loud',
  });
  assert.equal(res.code, 2);
  assert.match(res.stderr, /--port: expected a port number 0-65535, got '70000'/);
  assert.match(res.stderr, /--wake-timeout: expected a duration like 500ms, 2s, 5m or 1h, got 'soon'/);
  assert.match(res.stderr, /--backend: expected host:port, got 'nohostport'/);
  assert.match(res.stderr, /WAKE_PROXY_LOG_LEVEL: expected one of/);
});

test('an unknown flag and a missing upstream are reported', async () => {
  const unknown = await cli(['proxy', '--prot', '1']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /Unknown option '--prot'/);
  const none = await cli(['proxy']);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /one of --control-url, --backend or --kube-statefulset is required/);
  const cp = await cli(['control-plane']);
  assert.equal(cp.code, 2);
  assert.match(cp.stderr, /--token is required/);
});

test('session and transaction pooling need a control API to verify passwords', async () => {
  const res = await cli(['proxy', '--backend', '127.0.0.1:1', '--pool-mode', 'session', '--admin-port', '0', '--port', '0']);
  assert.equal(res.code, 2);
  assert.match(res.stderr, /--pool-mode session needs --auth verify and a control API/);
  const tx = await cli(['proxy', '--backend', '127.0.0.1:1', '--pool-mode', 'transaction', '--admin-port', '0', '--port', '0']);
  assert.match(tx.stderr, /--pool-mode transaction needs --auth verify and a control API/);
});

test('a port in use is a clear error, not a stack trace', async () => {
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  const port = (blocker.address() as { port: number }).port;
  try {
    const res = await cli(['proxy', '--backend', '127.0.0.1:1', '--host', '127.0.0.1', '--port', String(port), '--admin-port', '0']);
    assert.equal(res.code, 1);
    assert.match(res.stderr, new RegExp(`port ${port} on 127.0.0.1 is already in use`));
  } finally {
    blocker.close();
  }
});

test('the control plane checks its state and lease flags, and never shows a PostgreSQL password', async () => {
  const help = await cli(['control-plane', '--help']);
  for (const needle of ['--state', 'WAKE_PROXY_STATE', '<data-dir>/state.db', '--lease', 'WAKE_PROXY_LEASE', '(default: 5s)']) {
    assert.ok(help.stdout.includes(needle), `help mentions ${needle}`);
  }
  const lease = await cli(['control-plane', '--insecure-dev', 'true', '--lease', '100ms']);
  assert.equal(lease.code, 2);
  assert.match(lease.stderr, /--lease must be at least 500ms/);
  const dir = await mkdtemp(join(tmpdir(), 'wake-proxy-cli-state-'));
  try {
    const res = await cli(['control-plane', '--insecure-dev', 'true', '--control-port', '0', '--data-dir', dir, '--log-level', 'silent'], {
      WAKE_PROXY_STATE: 'postgres://cp:s3cret-pw@127.0.0.1:1/state',
    });
    assert.equal(res.code, 1);
    assert.match(res.stderr, /could not connect to the control-plane state postgres:\/\/cp:\*\*\*@127\.0\.0\.1:1\/state/);
    assert.ok(!`${res.stdout}${res.stderr}`.includes('s3cret-pw'), 'the password is never shown');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const urls = await cli(['proxy', '--control-url', 'http://a:1,,http://b:2']);
  assert.equal(urls.code, 2);
  assert.match(urls.stderr, /--control-url: expected URLs separated by commas, got an empty one/);
});
