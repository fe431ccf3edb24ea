// Limits that keep one tenant from starving the others: each one hit, the
// right MySQL error seen, and the refusal counted.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import { startStandaloneMariadb, type StandaloneMariadb } from '../helpers/standalone-mariadb.js';
import { testLogger } from '../helpers/logger.js';
import { createStaticResolver } from '../../control-client/static-resolver.js';
import type { ComputeResolver } from '../../control-client/types.js';
import { startProxy, type ProxyServer } from '../../proxy/server.js';
import type { LimitsConfig } from '../../proxy/limits.js';

let db: StandaloneMariadb;
const proxies: ProxyServer[] = [];

before(async () => {
  db = await startStandaloneMariadb();
});
after(async () => {
  await Promise.all(proxies.map((p) => p.close()));
  await db?.stop();
});

async function proxyWith(limits: LimitsConfig, resolver?: ComputeResolver): Promise<ProxyServer> {
  const p = await startProxy({
    host: '127.0.0.1',
    port: 0,
    resolver: resolver ?? createStaticResolver({ host: db.host, port: db.port }),
    routing: { fixedProject: 'tenant' },
    limits,
    logger: testLogger(),
  });
  proxies.push(p);
  return p;
}

function connect(p: ProxyServer) {
  return mysql.createConnection({ host: '127.0.0.1', port: p.port, user: db.user, password: db.password });
}

async function refusals(p: ProxyServer, reason: string): Promise<number> {
  const m = await p.metrics.connectionsRefused.get();
  return m.values.find((v) => v.labels.reason === reason)?.value ?? 0;
}

test('beyond the proxy-wide maximum a client gets 1040 before any greeting', async () => {
  const p = await proxyWith({ maxConnections: 2 });
  const held = [await connect(p), await connect(p)];
  await assert.rejects(connect(p), (err: any) => err.errno === 1040 && /Too many connections/.test(err.message));
  assert.equal(await refusals(p, 'too_many_connections'), 1);
  await Promise.all(held.map((c) => c.end()));
  await new Promise((r) => setTimeout(r, 100));
  const again = await connect(p);
  await again.end();
});

test('beyond the per-project maximum a client gets 1040 naming the project', async () => {
  const p = await proxyWith({ maxConnectionsPerProject: 2 });
  const held = [await connect(p), await connect(p)];
  await assert.rejects(connect(p), (err: any) => err.errno === 1040 && /project 'tenant'/.test(err.message));
  assert.equal(await refusals(p, 'too_many_connections_project'), 1);
  await Promise.all(held.map((c) => c.end()));
});

test('a per-project connection rate answers 1226 past its burst', async () => {
  const p = await proxyWith({ connectionRatePerProject: 3 });
  const outcomes: Array<number | 'ok'> = [];
  for (let i = 0; i < 5; i++) {
    try {
      const c = await connect(p);
      await c.end();
      outcomes.push('ok');
    } catch (err) {
      outcomes.push((err as { errno: number }).errno);
    }
  }
  assert.deepEqual(outcomes.slice(0, 3), ['ok', 'ok', 'ok']);
  assert.ok(outcomes.slice(3).includes(1226), JSON.stringify(outcomes));
  assert.ok((await refusals(p, 'rate_limited')) >= 1);
});

test('clients held for one wake are bounded; the held ones are served when it completes', async () => {
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  const inner = createStaticResolver({ host: db.host, port: db.port });
  const slow: ComputeResolver = {
    resolve: async (project, signal) => {
      await gate;
      return inner.resolve(project, signal);
    },
    invalidate: () => {},
    close: async () => {},
  };
  const p = await proxyWith({ maxWaitingPerProject: 2 }, slow);
  const attempts = Array.from({ length: 4 }, () => connect(p).then((c) => c.end().then(() => 'ok'), (e) => e.errno));
  await new Promise((r) => setTimeout(r, 300));
  open();
  const results = await Promise.all(attempts);
  assert.equal(results.filter((r) => r === 'ok').length, 2, JSON.stringify(results));
  assert.equal(results.filter((r) => r === 1040).length, 2, JSON.stringify(results));
  assert.equal(await refusals(p, 'too_many_waiting'), 2);
});
