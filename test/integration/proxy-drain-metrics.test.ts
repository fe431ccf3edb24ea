// The proxy as operators run it: a separate process with admin HTTP. Metrics
// move after a session; on SIGTERM or a process-group SIGINT it stops taking
// clients, marks itself not ready, and lets a query in flight complete.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import mysql from 'mysql2/promise';
import { request } from 'undici';
import { startStandaloneMariadb, type StandaloneMariadb } from '../helpers/standalone-mariadb.js';
import { findFreePort } from '../../control-plane/drivers/free-port.js';

const MAIN = fileURLToPath(new URL('../../cli/main.js', import.meta.url));
let db: StandaloneMariadb;

before(async () => {
  db = await startStandaloneMariadb();
});
after(async () => {
  await db?.stop();
});

interface ProxyProcess {
  child: ChildProcess;
  port: number;
  adminPort: number;
  output: () => string;
}

async function startProxyProcess(): Promise<ProxyProcess> {
  const [port, adminPort] = [await findFreePort(), await findFreePort()];
  // Its own process group, like a shell job: the group signal reaches only it.
  const child = spawn(
    process.execPath,
    [MAIN, 'proxy', '--backend', `${db.host}:${db.port}`, '--host', '127.0.0.1', '--port', String(port),
      '--admin-host', '127.0.0.1', '--admin-port', String(adminPort), '--drain-timeout', '10s'],
    { detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const deadline = Date.now() + 10_000;
  while (!out.includes('admin HTTP listening')) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`proxy did not start:\n${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, port, adminPort, output: () => out };
}

async function get(port: number, path: string) {
  const res = await request(`http://127.0.0.1:${port}${path}`);
  return { status: res.statusCode, text: await res.body.text() };
}

function metric(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(name));
  return line ? Number(line.split(' ').pop()) : NaN;
}

test('metrics are present and move after a session', async () => {
  const p = await startProxyProcess();
  try {
    assert.equal((await get(p.adminPort, '/healthz')).status, 200);
    assert.equal((await get(p.adminPort, '/readyz')).status, 200);
    const conn = await mysql.createConnection({ host: '127.0.0.1', port: p.port, user: db.user, password: db.password });
    await conn.query('SELECT REPEAT("x", 100000)');
    const during = (await get(p.adminPort, '/metrics')).text;
    assert.equal(metric(during, 'wakeproxy_client_connections_active'), 1);
    await conn.end();
    await assert.rejects(mysql.createConnection({ host: '127.0.0.1', port: p.port, user: db.user, password: 'wrong' }));
    await new Promise((r) => setTimeout(r, 200));
    const text = (await get(p.adminPort, '/metrics')).text;
    assert.equal(metric(text, 'wakeproxy_client_connections_opened_total{mode="pipe"}'), 2);
    assert.equal(metric(text, 'wakeproxy_client_connections_active'), 0);
    assert.equal(metric(text, 'wakeproxy_client_connections_refused_total{reason="access_denied"}'), 1);
    assert.ok(metric(text, 'wakeproxy_bytes_relayed_total{direction="backend_to_client"}') > 100_000);
    assert.equal(metric(text, 'wakeproxy_connect_phase_seconds_count{phase="auth"}'), 2);
    assert.equal(metric(text, 'wakeproxy_wake_requests_total{outcome="ok"}'), 2);
    // Auth data and passwords never reach the log.
    assert.ok(!p.output().includes(db.password));
  } finally {
    p.child.kill('SIGKILL');
  }
});

for (const [label, signal, group] of [
  ['SIGTERM to the process', 'SIGTERM', false],
  ['SIGINT to the whole process group (Ctrl-C)', 'SIGINT', true],
] as const) {
  test(`drain on ${label}: a query in flight completes, new clients are refused`, async () => {
    const p = await startProxyProcess();
    try {
      const conn = await mysql.createConnection({ host: '127.0.0.1', port: p.port, user: db.user, password: db.password });
      const inFlight = conn.query('SELECT SLEEP(1) AS s, 7 AS n');
      await new Promise((r) => setTimeout(r, 200));
      if (group) process.kill(-p.child.pid!, signal);
      else p.child.kill(signal);
      await new Promise((r) => setTimeout(r, 200));
      assert.equal((await get(p.adminPort, '/readyz')).status, 503);
      await assert.rejects(
        mysql.createConnection({ host: '127.0.0.1', port: p.port, user: db.user, password: db.password, connectTimeout: 2_000 }),
      );
      const [rows] = await inFlight;
      assert.equal((rows as any[])[0].n, 7);
      await conn.end();
      const [code] = await once(p.child, 'exit');
      assert.equal(code, 0);
    } finally {
      if (p.child.exitCode === null) p.child.kill('SIGKILL');
    }
  });
}
