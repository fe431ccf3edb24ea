// Two control planes (process driver, one host, one data directory) on one
// real PostgreSQL, proxies that know both, real mariadbd computes and Redis:
//   - failover: 20 sleeping projects, a storm of 200 clients, the leader killed
//     with SIGKILL while it is starting computes: every client is served, every
//     compute is started exactly once (counted in its own server log), and the
//     idle scheduler, now on the survivor, suspends each compute exactly once;
//   - fencing: the leader paused (SIGSTOP) past its lease while computes turn
//     idle, resumed (SIGCONT) while the new leader has not yet acted: it makes
//     no change, the new leader makes every suspend.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { createControlApiResolver } from '../../control-client/control-api-resolver.js';
import { RedisActivityStore } from '../../activity/redis-activity-store.js';
import { createProcessDriver } from '../../control-plane/drivers/process-driver.js';
import { computePaths } from '../../control-plane/drivers/compute-files.js';
import { ActivityReporter } from '../../proxy/activity-reporter.js';
import { startProxy, type ProxyServer } from '../../proxy/server.js';
import { controlApi } from '../helpers/control-plane-api.js';
import { startControlPlaneProcess, type ControlPlaneProcess } from '../helpers/control-plane-process.js';
import { testLogger } from '../helpers/logger.js';
import { startPostgres, type PostgresServer } from '../helpers/postgres-server.js';
import { startRedis, type RedisServer } from '../helpers/redis-server.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';
import { seedComputeTemplate } from '../helpers/datadir-template.js';

const REPORT_MS = 200;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let postgres: PostgresServer;
let redis: RedisServer;
const dirs: TempDir[] = [];
const planes: ControlPlaneProcess[] = [];
const cleanups: Array<() => Promise<void>> = [];

before(async () => {
  [postgres, redis] = await Promise.all([startPostgres(), startRedis()]);
});

after(async () => {
  for (const p of planes) {
    await p.signal('SIGCONT');
    await p.signal('SIGKILL');
  }
  for (const c of cleanups.reverse()) await c().catch(() => {});
  // Computes outlive their control planes: stop whatever runs under the data directories.
  for (const d of dirs) {
    await createProcessDriver({ dataDir: d.path }).close({ stopComputes: true });
    await d.remove();
  }
  await redis?.close();
  await postgres?.close();
});

interface Cluster {
  dir: string;
  db: pg.Client;
  a: ControlPlaneProcess;
  b: ControlPlaneProcess;
}

/** A leads (started first and waited for), B follows; both on one database and one data directory. */
async function cluster(name: string, flags: string[]): Promise<Cluster> {
  const dir = await makeTempDir(`wake-proxy-${name}-`);
  await seedComputeTemplate(dir.path);
  dirs.push(dir);
  const url = await postgres.createDatabase(name);
  const common = ['--state', url, '--data-dir', dir.path, '--redis', redis.url, '--report-interval', `${REPORT_MS}ms`, '--log-level', 'info', ...flags];
  const a = await startControlPlaneProcess(common);
  planes.push(a);
  await until(() => a.isLeader(), 5_000, 'the first control plane leads');
  const b = await startControlPlaneProcess(common);
  planes.push(b);
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  cleanups.push(() => db.end());
  return { dir: dir.path, db, a, b };
}

async function until(cond: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await sleep(50);
  }
}

/** A proxy in this process reporting activity to Redis, waking through the given control planes in this order. */
async function proxyFor(urls: string[]): Promise<ProxyServer> {
  const logger = testLogger();
  const resolver = createControlApiResolver({ url: urls, wakeTimeoutMs: 40_000, cacheTtlMs: 500 });
  const store = new RedisActivityStore({ url: redis.url, commandTimeoutMs: 500 });
  const activity = new ActivityReporter({ store, intervalMs: REPORT_MS, logger });
  const proxy = await startProxy({ host: '127.0.0.1', port: 0, resolver, logger, wakeTimeoutMs: 40_000, activity });
  cleanups.push(async () => {
    await proxy.close();
    await activity.close();
    await resolver.close();
    await store.close();
  });
  return proxy;
}

const STARTING = /\] Starting MariaDB .* as process \d+/g;
/** mariadbd's words when its port was taken between the driver choosing it and binding it. */
const PORT_TAKEN = /Bind on TCP\/IP port|Address already in use/;

/**
 * How many times mariadbd started on the compute's datadir, from its own log. An attempt that found
 * its port taken is not one: it exits without serving, and the driver tries again on another port.
 */
async function starts(dir: string, computeId: string): Promise<number> {
  const log = await readFile(computePaths(dir, computeId).log, 'utf8').catch(() => '');
  const at = [...log.matchAll(STARTING)].map((m) => m.index);
  return at.filter((from, i) => !PORT_TAKEN.test(log.slice(from, at[i + 1]))).length;
}

/** Each control plane's log lines about one compute, for a failure message. */
function story(planes: ControlPlaneProcess[], computeId: string): string {
  return planes
    .flatMap((p, i) => p.lines.filter((l) => l.includes(`"${computeId}"`)).map((l) => `  ${'ab'[i]} ${l}`))
    .join('\n');
}

async function events(db: pg.Client, sinceSeq: number): Promise<Array<{ compute_id: string; state: string; by_instance: string; epoch: number | null }>> {
  return (await db.query('SELECT compute_id, state, by_instance, epoch::int AS epoch FROM compute_events WHERE seq > $1 ORDER BY seq', [sinceSeq])).rows;
}

async function lastSeq(db: pg.Client): Promise<number> {
  return Number((await db.query('SELECT COALESCE(MAX(seq), 0) AS s FROM compute_events')).rows[0].s);
}

test('failover: the leader killed during a storm of 200 clients on 20 sleeping projects', async (t) => {
  const { dir, db, a, b } = await cluster('failover', ['--lease', '2s', '--idle-timeout', '2s', '--cold-timeout', '1h']);
  const api = [controlApi(a.url), controlApi(b.url)];
  const names = Array.from({ length: 20 }, (_, i) => `p${i}`);
  const creds = new Map<string, { user: string; password: string; computeId: string }>();
  for (let i = 0; i < names.length; i += 4) {
    await Promise.all(
      names.slice(i, i + 4).map(async (name, j) => {
        const res = await api[j % 2]!('POST', '/api/v1/projects', { name });
        assert.equal(res.status, 201, JSON.stringify(res.body));
        creds.set(name, { user: res.body.user, password: res.body.password, computeId: res.body.compute.id });
      }),
    );
  }
  await Promise.all(names.map((n, i) => api[i % 2]!('POST', `/api/v1/compute/${creds.get(n)!.computeId}/suspend`, { tier: 'stop' })));
  const startsBefore = new Map(await Promise.all(names.map(async (n) => [n, await starts(dir, creds.get(n)!.computeId)] as const)));
  const stormFrom = await lastSeq(db);

  const proxies = [await proxyFor([a.url, b.url]), await proxyFor([b.url, a.url])];
  const failures: string[] = [];
  const served: number[] = [];
  const clients = names.flatMap((name, i) =>
    Array.from({ length: 10 }, async (_, k) => {
      const proxy = proxies[(i + k) % 2]!;
      const c = creds.get(name)!;
      try {
        const conn = await mysql.createConnection({ host: '127.0.0.1', port: proxy.port, user: `${name}.${c.user}`, password: c.password, connectTimeout: 60_000 });
        try {
          const [rows] = await conn.query('SELECT 1 AS one');
          served.push((rows as Array<{ one: number }>)[0]!.one);
        } finally {
          await conn.end();
        }
      } catch (err) {
        failures.push(`${name}: ${(err as Error).message}`);
      }
    }),
  );
  // Kill the leader while it holds claims: computes it is starting at this very moment.
  await until(
    async () => Number((await db.query('SELECT COUNT(*) AS n FROM computes WHERE op_holder = $1', [a.instance])).rows[0].n) >= 2,
    30_000,
    'the leader is starting computes',
  );
  const killedAt = Date.now();
  await a.signal('SIGKILL');
  await Promise.all(clients);
  t.diagnostic(`200 clients served ${Date.now() - killedAt} ms after the kill; failures: ${failures.length}`);
  assert.deepEqual(failures, []);
  assert.equal(served.length, 200);
  assert.ok(served.every((one) => one === 1));

  for (const n of names) {
    const id = creds.get(n)!.computeId;
    const count = (await starts(dir, id)) - startsBefore.get(n)!;
    if (count !== 1) t.diagnostic(`${n}: what the control planes logged of its compute:\n${story([a, b], id)}`);
    assert.equal(count, 1, `compute of ${n} started exactly once`);
  }
  const storm = await events(db, stormFrom);
  for (const n of names) {
    const id = creds.get(n)!.computeId;
    assert.equal(storm.filter((e) => e.compute_id === id && e.state === 'starting').length, 1, `one 'starting' for ${n}`);
  }
  assert.ok(
    b.lines.some((l) => l.includes('taking over the operation of a control plane that is gone')),
    'the survivor took over starts the killed leader had under way',
  );

  await until(() => b.isLeader(), 5_000, 'the survivor leads');
  await until(
    async () => Number((await db.query("SELECT COUNT(*) AS n FROM computes WHERE state = 'frozen'")).rows[0].n) === names.length,
    20_000,
    'every idle compute frozen',
  ).catch(async (err: Error) => {
    const left = (await db.query("SELECT id, state, op, op_holder, owner, last_error FROM computes WHERE state <> 'frozen' ORDER BY id")).rows;
    for (const c of left) t.diagnostic(`not frozen: ${JSON.stringify(c)}; what the control planes logged of it:\n${story([a, b], c.id)}`);
    throw err;
  });
  await sleep(1_500); // several more scheduler passes: nothing more may happen
  const epochB = Number((await db.query("SELECT epoch FROM leadership WHERE name = 'scheduler'")).rows[0].epoch);
  // Counted from the storm on, not from now: a compute whose clients left early turns idle 2 s later, and
  // under load the survivor may have frozen it before the checks above were done.
  const idle = (await events(db, stormFrom)).filter((e) => e.state !== 'starting' && e.state !== 'active');
  for (const n of names) {
    const id = creds.get(n)!.computeId;
    const mine = idle.filter((e) => e.compute_id === id);
    assert.deepEqual(mine.map((e) => [e.state, e.by_instance, e.epoch]), [['frozen', b.instance, epochB]], `${n}: suspended once, by the new leader`);
  }
});

test('fencing: a leader paused past its lease and resumed makes no change once another leads', async (t) => {
  const IDLE_MS = 3_000;
  const { db, a, b } = await cluster('fencing', ['--lease', '1s', '--idle-timeout', `${IDLE_MS}ms`, '--cold-timeout', '1h']);
  const api = controlApi(b.url);
  const names = ['f0', 'f1', 'f2'];
  const creds = await Promise.all(
    names.map(async (name) => {
      const res = await api('POST', '/api/v1/projects', { name });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return { name, user: res.body.user as string, password: res.body.password as string };
    }),
  );
  // Clients keep every compute awake; when they leave, the computes turn idle after IDLE_MS.
  const proxy = await proxyFor([b.url]);
  const conns = await Promise.all(creds.map((c) => mysql.createConnection({ host: '127.0.0.1', port: proxy.port, user: `${c.name}.${c.user}`, password: c.password })));
  await sleep(3 * REPORT_MS);
  const from = await lastSeq(db);
  await Promise.all(conns.map((c) => c.end()));
  const left = Date.now();
  await sleep(REPORT_MS * 2); // the leaving reaches Redis
  await a.signal('SIGSTOP');
  const pausedAt = Date.now();
  await until(() => b.isLeader(), 10_000, 'the other control plane takes over');
  const tookOverAt = Date.now();
  // Resume the old leader once the computes are idle by its own reckoning (it has not seen its lease end),
  // while the new leader, whose term just began, still counts them as woken at its start.
  await sleep(Math.max(0, left + IDLE_MS + 300 - Date.now()));
  await a.signal('SIGCONT');
  t.diagnostic(`paused ${Date.now() - pausedAt} ms; taken over ${tookOverAt - pausedAt} ms after the pause`);

  await until(
    async () => Number((await db.query("SELECT COUNT(*) AS n FROM computes WHERE state = 'frozen'")).rows[0].n) === names.length,
    15_000,
    'the new leader suspends the idle computes',
  );
  await sleep(1_000);
  const epochB = Number((await db.query("SELECT epoch FROM leadership WHERE name = 'scheduler'")).rows[0].epoch);
  const made = await events(db, from);
  assert.deepEqual(
    made.filter((e) => e.by_instance === a.instance),
    [],
    'the paused leader made no change after it was resumed',
  );
  assert.deepEqual(
    made.map((e) => [e.state, e.by_instance, e.epoch]),
    names.map(() => ['frozen', b.instance, epochB]),
  );
  const refused = a.lines.filter((l) => l.includes('idle suspend refused')).length;
  t.diagnostic(`the resumed leader stepped down by its own clock; suspends the store refused for its old epoch: ${refused}`);
  assert.ok(a.lines.some((l) => l.includes('this control plane no longer leads')), 'the resumed leader knew it no longer led');
  assert.equal(await a.isLeader(), false);
});
