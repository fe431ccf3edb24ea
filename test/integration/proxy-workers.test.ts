// `wake-proxy proxy --workers 2`: two proxy processes accept on one port, share Redis
// (distinct instance numbers in session ids, KILL across them), and the primary
// serves their merged metrics and readiness, drains them on SIGTERM or on the
// terminal's Ctrl-C to the whole process group, and refuses what two workers
// cannot serve correctly. Real CLI, real mariadbd, real redis-server.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import mysql from 'mysql2/promise';
import { startStandaloneMariadb, type StandaloneMariadb } from '../helpers/standalone-mariadb.js';
import { startRedis, type RedisServer } from '../helpers/redis-server.js';
import { READER_SQL } from '../helpers/mode-proxies.js';
import { startLoggedChild, type LoggedChild } from '../helpers/logged-child.js';
import { instanceOf } from '../../proxy/kill/session-ids.js';
import { killAcross } from '../helpers/kill-across.js';

const run = promisify(execFile);
const MAIN = fileURLToPath(new URL('../../cli/main.js', import.meta.url));
const DRAIN_MS = 2_000;

let db: StandaloneMariadb;
let redis: RedisServer;
const started: LoggedChild[] = [];

before(async () => {
  [db, redis] = await Promise.all([
    startStandaloneMariadb('app', 'app-secret', `${READER_SQL}\nGRANT ALL ON *.* TO 'app'@'%' WITH GRANT OPTION;`),
    startRedis(),
  ]);
});
after(async () => {
  for (const c of started) if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL');
  await db?.stop();
  await redis?.close();
});

interface Workers extends LoggedChild {
  port: number;
  adminPort: number;
  /** The workers' pids, from their log lines. */
  workerPids(): number[];
  exitCode(): Promise<number | null>;
}

async function startWorkers(extra: string[] = [], detached = false): Promise<Workers> {
  const c = await startLoggedChild({
    args: [
      'proxy', '--workers', '2', '--redis', redis.url, '--backend', `${db.host}:${db.port}`,
      '--accounts-user', 'reader', '--accounts-password', 'reader-secret', '--pool-mode', 'transaction',
      '--host', '127.0.0.1', '--port', '0', '--admin-host', '127.0.0.1', '--admin-port', '0',
      '--drain-timeout', `${DRAIN_MS}ms`, ...extra,
    ],
    what: 'proxy workers',
    timeoutMs: 20_000,
    ready: (rec) => (rec.msg === 'proxy workers listening' ? (rec.port as number) : undefined),
    ...(detached ? { detached } : {}),
  });
  started.push(c);
  const records = () => c.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  const admin = records().find((r) => r.msg === 'admin HTTP listening' && r.pid === c.child.pid);
  assert.ok(admin, 'the primary logs its admin port');
  return {
    ...c,
    port: c.ready,
    adminPort: admin.port as number,
    workerPids: () => [...new Set(records().map((r) => r.pid as number))].filter((pid) => pid !== c.child.pid),
    exitCode: async () => {
      await c.exited;
      return c.child.exitCode;
    },
  };
}

const connect = (port: number) => mysql.createConnection({ host: '127.0.0.1', port, user: 'app', password: 'app-secret' });

async function get(port: number, path: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, text: await res.text() };
}

/** The sum of a metric's samples over every label set. */
function sumOf(text: string, name: string): number {
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('two workers sharing Redis', () => {
  let w: Workers;
  const conns: mysql.Connection[] = [];
  before(async () => {
    w = await startWorkers();
  });
  after(async () => {
    for (const c of conns) c.destroy();
  });

  test('connections get session ids of exactly two instance numbers, and queries work on each', async () => {
    // The kernel spreads connections over the workers roughly: batches of concurrent
    // connects until both have served some (40 at least), 200 at most.
    while (conns.length < 40 || (new Set(conns.map((c) => instanceOf(c.threadId!))).size < 2 && conns.length < 200)) {
      conns.push(...(await Promise.all(Array.from({ length: 20 }, () => connect(w.port)))));
    }
    const instances = new Set(conns.map((c) => instanceOf(c.threadId!)));
    assert.equal(instances.size, 2, `instances ${[...instances].join(', ')} over ${conns.length} connections`);
    const answers = await Promise.all(conns.map(async (c) => ((await c.query('SELECT 1 + 1 AS two')) as any)[0][0].two));
    assert.ok(answers.every((a) => a === 2));
    assert.equal(w.workerPids().length, 2, 'two worker processes logged');
  });

  test('/metrics sums both workers: connections opened equal the connections made', async () => {
    const { status, text } = await get(w.adminPort, '/metrics');
    assert.equal(status, 200);
    assert.equal(sumOf(text, 'wakeproxy_client_connections_opened_total'), conns.length);
    assert.equal(sumOf(text, 'wakeproxy_client_connections_active'), conns.length);
    assert.ok(sumOf(text, 'process_cpu_seconds_total') > 0);
    assert.ok(!text.includes('process_start_time_seconds'), 'a start time has no meaningful sum: left out');
  });

  test('/readyz and /healthz answer for all workers', async () => {
    assert.equal((await get(w.adminPort, '/readyz')).status, 200);
    const health = await get(w.adminPort, '/healthz');
    assert.equal(health.status, 200);
    assert.deepEqual(JSON.parse(health.text), { ok: true, workers: { alive: 2, expected: 2 } });
  });

  test('a KILL QUERY sent through one worker stops a statement of a session on the other', async () => {
    const victim = conns.find((c) => instanceOf(c.threadId!) === instanceOf(conns[0]!.threadId!))!;
    const killer = conns.find((c) => instanceOf(c.threadId!) !== instanceOf(victim.threadId!))!;
    const r = await killAcross(victim, killer);
    assert.equal(r.outcome, 'error 1317');
    assert.ok(r.ms < 3_000, `took ${r.ms} ms`);
    assert.equal(((await victim.query('SELECT 1 AS ok')) as any)[0][0].ok, 1, 'the victim session goes on');
  });

  test('a worker that does not answer within 2 s: /metrics is a 503 naming it, not a partial sum', async () => {
    const [stuck] = w.workerPids();
    process.kill(stuck!, 'SIGSTOP');
    try {
      const t0 = performance.now();
      const { status, text } = await get(w.adminPort, '/metrics');
      assert.equal(status, 503);
      assert.match(text, new RegExp(`worker ${stuck} did not answer within 2000 ms`));
      assert.ok(performance.now() - t0 < 4_000);
    } finally {
      process.kill(stuck!, 'SIGCONT');
    }
    assert.equal((await get(w.adminPort, '/metrics')).status, 200);
  });

  test('a worker that dies is logged with its pid and signal and replaced; readiness comes back', async () => {
    const [victim] = w.workerPids();
    process.kill(victim!, 'SIGKILL');
    const records = () => w.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const until = performance.now() + 15_000;
    while (!records().some((r) => r.msg === 'worker replaced' && r.replaces === victim) && performance.now() < until) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const died = records().find((r) => r.msg === 'worker died' && r.pid === victim);
    assert.ok(died, 'the death is logged');
    assert.equal(died.level, 50);
    assert.equal(died.signal, 'SIGKILL');
    const replacement = records().find((r) => r.msg === 'worker replaced' && r.replaces === victim);
    assert.ok(replacement, 'a replacement is forked');
    while ((await get(w.adminPort, '/readyz')).status !== 200 && performance.now() < until) await new Promise((r) => setTimeout(r, 50));
    assert.equal((await get(w.adminPort, '/readyz')).status, 200);
    assert.deepEqual(JSON.parse((await get(w.adminPort, '/healthz')).text).workers, { alive: 2, expected: 2 });
    // The victim's sessions are gone with it; the replacement serves new ones.
    const fresh = await connect(w.port);
    assert.equal(((await fresh.query('SELECT 1 AS ok')) as any)[0][0].ok, 1);
    fresh.destroy();
  });

  test('SIGTERM drains every worker within the drain timeout; the primary exits 0 and no worker is left', async () => {
    const pids = w.workerPids();
    const t0 = performance.now();
    w.child.kill('SIGTERM');
    // Sessions still open are closed at the drain timeout.
    const code = await w.exitCode();
    const ms = performance.now() - t0;
    assert.equal(code, 0);
    assert.ok(ms < DRAIN_MS + 3_000, `exited after ${Math.round(ms)} ms`);
    for (const pid of pids) assert.equal(alive(pid), false, `worker ${pid} is gone`);
  });
});

test('Ctrl-C to the whole process group: each worker drains once, the primary exits 0', async () => {
  const w = await startWorkers([], true);
  const pids = w.workerPids();
  process.kill(-w.child.pid!, 'SIGINT');
  assert.equal(await w.exitCode(), 0);
  const records = w.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  for (const pid of pids) {
    assert.equal(records.filter((r) => r.pid === pid && r.msg === 'draining').length, 1, `worker ${pid} drained once`);
    assert.equal(alive(pid), false);
  }
  assert.ok(!records.some((r) => r.msg === 'second signal: exiting now'));
});

test('workers that keep dying: after the sixth death within a minute the primary stops the rest and exits 1', async () => {
  const w = await startWorkers();
  const records = () => w.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  for (let death = 1; death <= 6; death++) {
    // The newest worker that is listening (a replacement logs 'proxy listening' once it serves).
    const until = performance.now() + 15_000;
    let pid: number | undefined;
    while (performance.now() < until && pid === undefined) {
      const dead = new Set(records().filter((r) => r.msg === 'worker died').map((r) => r.pid));
      pid = records().filter((r) => r.msg === 'proxy listening' && !dead.has(r.pid)).at(-1)?.pid as number | undefined;
      if (pid === undefined) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(pid, `a listening worker to kill (death ${death})`);
    process.kill(pid, 'SIGKILL');
    while (!records().some((r) => r.msg === 'worker died' && r.pid === pid) && performance.now() < until) {
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  assert.equal(await w.exitCode(), 1);
  assert.ok(records().some((r) => r.msg === 'more than 5 workers died within a minute: stopping the rest'));
  assert.equal(records().filter((r) => r.msg === 'worker replaced').length, 5);
  for (const pid of w.workerPids()) assert.equal(alive(pid), false, `worker ${pid} is gone`);
});

describe('refused', () => {
  let blocker: Server;
  before(async () => {
    blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  });
  after(() => blocker.close());

  async function cli(args: string[]): Promise<{ code: number; stderr: string }> {
    try {
      const { stderr } = await run(process.execPath, [MAIN, ...args], { timeout: 20_000, env: { PATH: process.env.PATH } });
      return { code: 0, stderr };
    } catch (err) {
      return err as { code: number; stderr: string };
    }
  }

  test('--workers 2 without --redis, with --admin-mysql-port, or out of range: a configuration error', async () => {
    const backend = ['proxy', '--backend', '127.0.0.1:1'];
    const noRedis = await cli([...backend, '--workers', '2']);
    assert.equal(noRedis.code, 2);
    assert.match(noRedis.stderr, /--workers 2 needs --redis: the workers share KILL, failed-password counts and activity/);
    const console = await cli([...backend, '--workers', '2', '--redis', redis.url, '--admin-mysql-port', '0', '--admin-mysql-password', 'x']);
    assert.equal(console.code, 2);
    assert.match(console.stderr, /--workers 2 excludes --admin-mysql-port/);
    for (const n of ['0', '65']) {
      const out = await cli([...backend, '--workers', n, '--redis', redis.url]);
      assert.equal(out.code, 2);
      assert.match(out.stderr, /--workers: expected 1 to 64/);
    }
    const dev = await cli(['dev', '--workers', '2']);
    assert.equal(dev.code, 2);
    assert.match(dev.stderr, /Unknown option '--workers'/);
  });

  test('a worker that cannot start (its port in use): the primary exits 1 with its error, no restart', async () => {
    const busy = (blocker.address() as { port: number }).port;
    const t0 = performance.now();
    const out = await cli(['proxy', '--backend', '127.0.0.1:1', '--workers', '2', '--redis', redis.url,
      '--host', '127.0.0.1', '--port', String(busy), '--admin-port', '0']);
    assert.equal(out.code, 1);
    assert.match(out.stderr, /in use/);
    assert.match(out.stderr, /before it was listening/);
    assert.ok(performance.now() - t0 < 15_000);
  });
});
