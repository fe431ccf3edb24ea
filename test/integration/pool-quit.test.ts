// Pooled compute connections end with COM_QUIT, as a polite client's do: the compute's
// Aborted_clients stays where it was when the pool closes them (idle expiry, a
// connection given back dirty, the proxy's shutdown), in both pooled modes, in front
// of a static backend with an accounts reader (the same pool the control plane's
// computes get). The counter is read on the compute directly.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import { startStandaloneMariadb, type StandaloneMariadb } from '../helpers/standalone-mariadb.js';
import { READER_SQL } from '../helpers/mode-proxies.js';
import { startProxyProcess, type ProxyProcess } from '../helpers/proxy-process.js';

let db: StandaloneMariadb;

before(async () => {
  db = await startStandaloneMariadb('app', 'app-secret', READER_SQL);
});
after(async () => {
  await db?.stop();
});

function startProxy(mode: string, idleTimeout: string): Promise<ProxyProcess> {
  return startProxyProcess([
    '--backend', `${db.host}:${db.port}`,
    '--accounts-user', 'reader',
    '--accounts-password', 'reader-secret',
    '--pool-mode', mode,
    '--pool-idle-timeout', idleTimeout,
  ]);
}

/** Read on the compute directly (this connection itself ends with COM_QUIT). */
async function computeStatus(): Promise<{ aborted: number; appThreads: number }> {
  const c = await mysql.createConnection({ host: db.host, port: db.port, user: db.user, password: db.password });
  try {
    const [status] = await c.query("SHOW GLOBAL STATUS LIKE 'Aborted_clients'");
    const [threads] = await c.query("SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE USER = 'app' AND ID <> CONNECTION_ID()");
    return { aborted: Number((status as any[])[0].Value), appThreads: Number((threads as any[])[0].n) };
  } finally {
    await c.end();
  }
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A few clients through the proxy, some at once, so the pool holds more than one connection. */
async function useThePool(port: number): Promise<void> {
  const clients = await Promise.all([1, 2, 3].map(() => mysql.createConnection({ host: '127.0.0.1', port, user: 'app', password: 'app-secret' })));
  await Promise.all(clients.map((c) => c.query('SELECT SLEEP(0.05)')));
  await Promise.all(clients.map((c) => c.end()));
}

for (const mode of ['session', 'transaction']) {
  test(`${mode} mode: idle pooled connections expire with COM_QUIT`, async () => {
    const proxy = await startProxy(mode, '1s');
    try {
      const before = await computeStatus();
      await useThePool(proxy.port);
      assert.ok((await computeStatus()).appThreads > before.appThreads, 'the pool keeps connections');
      await until('the idle connections to close', async () => (await computeStatus()).appThreads === before.appThreads);
      assert.equal((await computeStatus()).aborted, before.aborted);
    } finally {
      await proxy.kill('SIGTERM');
    }
  });

  test(`${mode} mode: the proxy's shutdown closes its pooled connections with COM_QUIT`, async () => {
    const proxy = await startProxy(mode, '60s');
    const before = await computeStatus();
    try {
      await useThePool(proxy.port);
      assert.ok((await computeStatus()).appThreads > before.appThreads, 'the pool keeps connections');
    } finally {
      await proxy.kill('SIGTERM');
    }
    await until('the pooled connections to close', async () => (await computeStatus()).appThreads === before.appThreads);
    assert.equal((await computeStatus()).aborted, before.aborted);
  });

  test(`${mode} mode: a connection given back dirty (client gone mid-transaction) is closed with COM_QUIT`, async () => {
    const proxy = await startProxy(mode, '60s');
    try {
      const before = await computeStatus();
      const c = await mysql.createConnection({ host: '127.0.0.1', port: proxy.port, user: 'app', password: 'app-secret' });
      await c.query('BEGIN');
      await c.query('SELECT 1');
      // Gone for good: its connection resets (a FIN alone would be a goodbye, and the connection reset and kept).
      (c as any).connection.stream.resetAndDestroy();
      // The pool opened one connection for the login; it held the transaction and is closed, not kept.
      await until('the dirty connection to close', async () => (await computeStatus()).appThreads === before.appThreads);
      assert.equal((await computeStatus()).aborted, before.aborted);
    } finally {
      await proxy.kill('SIGTERM');
    }
  });
}
