// Commands load only what they use. `--help` loads no command, and a proxy in front
// of a static backend never loads the Kubernetes client (about half of a start's
// cost), from its start through serving clients: only `proxy --kube-statefulset`
// and the control plane's kubernetes driver do. Module hooks list every module each
// process resolved, static and dynamic imports alike.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import mysql from 'mysql2/promise';
import { startStandaloneMariadb, type StandaloneMariadb } from '../helpers/standalone-mariadb.js';
import { READER_SQL } from '../helpers/mode-proxies.js';
import { startProxyProcess } from '../helpers/proxy-process.js';

const run = promisify(execFile);
const MAIN = fileURLToPath(new URL('../../cli/main.js', import.meta.url));
const TRACE_HOOKS = new URL('../helpers/module-trace.js', import.meta.url).href;

/** The Kubernetes client and the code that is its only user. */
const KUBERNETES = [/\/node_modules\/@kubernetes\/client-node\//, /\/dist\/kube\//, /\/kubernetes-resolver\.js$/, /\/drivers\/kubernetes-[^/]*\.js$/];

let dir: string;
let db: StandaloneMariadb;
/** Holds a port so a command fails to listen right after loading what it needs. */
let blocker: Server;
let busyPort: number;
let traces = 0;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wake-proxy-lazy-'));
  db = await startStandaloneMariadb('app', 'app-secret', READER_SQL);
  blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  busyPort = (blocker.address() as { port: number }).port;
});
after(async () => {
  blocker?.close();
  await db?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A fresh trace file and the node options and environment that fill it. */
function newTrace() {
  const file = join(dir, `trace-${++traces}.txt`);
  return {
    nodeArgs: ['--import', TRACE_HOOKS],
    env: { MODULE_TRACE_FILE: file },
    /** Resolved module URLs. */
    async urls(): Promise<string[]> {
      const text = await readFile(file, 'utf8');
      return text.split('\n').filter(Boolean).map((line) => line.split('\t')[1] ?? '');
    },
  };
}

/** Runs the CLI to its exit with module tracing on. */
async function traceCli(args: string[]): Promise<{ code: number; stderr: string; urls: string[] }> {
  const trace = newTrace();
  let code = 0;
  let stderr = '';
  try {
    ({ stderr } = await run(process.execPath, [...trace.nodeArgs, MAIN, ...args], {
      timeout: 20_000,
      env: { PATH: process.env.PATH, ...trace.env },
    }));
  } catch (err) {
    ({ code, stderr } = err as { code: number; stderr: string });
  }
  return { code, stderr, urls: await trace.urls() };
}

const prettyModules = (urls: string[]) => urls.filter((u) => u.includes('/node_modules/pino-pretty/'));
const kubernetesModules = (urls: string[]) => urls.filter((u) => KUBERNETES.some((k) => k.test(u)));

test('--help loads no command and no package', async () => {
  const res = await traceCli(['--help']);
  assert.equal(res.code, 0, res.stderr);
  assert.ok(res.urls.some((u) => u.endsWith('/cli/main.js')), 'the trace saw the entry point');
  const loaded = res.urls.filter((u) => u.startsWith('file:')).map((u) => u.slice(u.indexOf('/dist/') + 1));
  assert.deepEqual(loaded.filter((u) => !u.startsWith('dist/cli/') && u !== 'dist/control-client/static-resolver.js'), []);
  assert.deepEqual(loaded.filter((u) => u.endsWith('-command.js')), []);
});

for (const [mode, flags] of [
  ['pipe', []],
  ['transaction pooling', ['--accounts-user', 'reader', '--accounts-password', 'reader-secret', '--pool-mode', 'transaction']],
] as const) {
  test(`proxy --backend (${mode}) never loads the Kubernetes client, from its start through a served client`, async () => {
    const trace = newTrace();
    const proxy = await startProxyProcess(['--backend', `${db.host}:${db.port}`, ...flags], trace);
    try {
      const conn = await mysql.createConnection({ host: '127.0.0.1', port: proxy.port, user: db.user, password: db.password });
      const [rows] = await conn.query('SELECT 40 + 2 AS n');
      assert.equal((rows as Array<{ n: number }>)[0]?.n, 42);
      await conn.end();
    } finally {
      await proxy.kill('SIGTERM');
    }
    const urls = await trace.urls();
    assert.ok(urls.some((u) => u.endsWith('/proxy/session.js')), 'the trace saw the session path load');
    assert.deepEqual(kubernetesModules(urls), []);
    // Its stdout is a pipe: JSON lines, and the pretty printer never loaded.
    assert.deepEqual(prettyModules(urls), []);
  });
}

test('--log-format pretty loads the pretty printer (the check above can fail)', async () => {
  const res = await traceCli(['proxy', '--backend', `${db.host}:${db.port}`, '--log-format', 'pretty', '--host', '127.0.0.1', '--port', String(busyPort), '--admin-port', '0']);
  assert.equal(res.code, 1, res.stderr);
  assert.ok(prettyModules(res.urls).length > 0);
});

test('control-plane with the process driver never loads the Kubernetes client', async () => {
  const res = await traceCli(['control-plane', '--insecure-dev', 'true', '--data-dir', join(dir, 'cp'),
    '--control-host', '127.0.0.1', '--control-port', String(busyPort)]);
  assert.equal(res.code, 1, res.stderr);
  assert.ok(res.urls.some((u) => u.endsWith('/control-plane/server.js')), 'the trace saw the control plane load');
  assert.deepEqual(kubernetesModules(res.urls), []);
});

test('the trace does see the Kubernetes client where it is chosen (the checks above can fail)', async () => {
  const proxy = await traceCli(['proxy', '--kube-statefulset', 'compute-{project}', '--host', '127.0.0.1', '--port', String(busyPort), '--admin-port', '0']);
  assert.equal(proxy.code, 1, proxy.stderr);
  assert.match(proxy.stderr, /already in use/);
  assert.ok(proxy.urls.some((u) => /\/node_modules\/@kubernetes\/client-node\//.test(u)), 'proxy --kube-statefulset loads the client');
  const cp = await traceCli(['control-plane', '--driver', 'kubernetes', '--insecure-dev', 'true', '--data-dir', join(dir, 'cp-kube'),
    '--control-host', '127.0.0.1', '--control-port', String(busyPort)]);
  assert.ok(cp.urls.some((u) => /\/node_modules\/@kubernetes\/client-node\//.test(u)), 'the kubernetes driver loads the client');
});
