// Scenario 9: application pools on a compute that sleeps. 2 x N clients of two real
// drivers (mysql2 with execute(); the npm mariadb connector with execute() and
// query()) log in through `--pool-mode transaction` and run a statement about once a
// second each; then they stay connected but idle until the idle scheduler freezes
// the compute under them, and each runs its next statement, which wakes it.
// Wanted (issue "pooled sessions that real drivers keep"): at most 10 connections on
// the compute with --pool-max-per-compute at its default, no session pins from the
// drivers' own setup, the compute asleep under idle clients, one wake, no errors.
import mysql from 'mysql2/promise';
import { findFreePort } from '../../control-plane/drivers/free-port.js';
import { quantileOf } from '../histogram.js';
import { countsSince, readPins, showCounts, totalOf, type Counts } from '../proxy-metrics.js';
import { sleep } from '../processes.js';
import { fmt, say, type BenchContext, type ScenarioResult, type TargetCheck } from '../scenario.js';
import { startWakeStack, type ProjectAccess, type WakeStack } from '../wake-stack.js';
import { startWorkers, type Worker, type WorkerMessage } from '../workers/worker-pool.js';

const ID = 'idle-pool';
const DRIVERS = ['mysql2', 'mariadb'] as const;
const MAX_COMPUTE_CONNECTIONS = 10;

type Errors = Counts;
interface Opened extends WorkerMessage { opened: number; logins: number[]; errors: Errors }
interface Ran extends WorkerMessage { statements: number; latencies: number[]; errors: Errors }
interface Answered extends WorkerMessage { latencies: number[]; errors: Errors }

/** Samples the compute's own view of its connections over a direct (not proxied) login. */
class ComputeWatch {
  maxThreads = 0;
  maxUsed = 0;
  private stopped = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly conn: mysql.Connection,
    private readonly user: string,
  ) {}

  static async open(stack: WakeStack, p: ProjectAccess): Promise<ComputeWatch> {
    const addr = await stack.address(p.computeId);
    return new ComputeWatch(await mysql.createConnection({ ...addr, user: p.ownerUser, password: p.password }), p.ownerUser);
  }

  /**
   * maxThreads: the proxy's logins (the project's user, less this admin connection);
   * maxUsed: Max_used_connections as the server counts it, which also holds this admin
   * login and the control plane's health probe.
   */
  async sample(): Promise<void> {
    const [rows] = await this.conn.query(
      "SELECT (SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = ?) - 1 AS mine, (SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'MAX_USED_CONNECTIONS') AS used",
      [this.user],
    );
    const r = (rows as Array<{ mine: unknown; used: unknown }>)[0]!;
    this.maxThreads = Math.max(this.maxThreads, Number(r.mine));
    this.maxUsed = Math.max(this.maxUsed, Number(r.used));
  }

  start(everyMs: number): void {
    this.loop = (async () => {
      while (!this.stopped) {
        await this.sample();
        await sleep(everyMs);
      }
    })();
  }

  async close(): Promise<void> {
    this.stopped = true;
    await this.loop;
    await this.sample();
    await this.conn.end();
  }
}

/** Workers report their errors so far with every message: the last messages, summed. */
const sum = (last: Array<{ errors: Errors }>) => {
  const out: Errors = {};
  for (const a of last) for (const [k, v] of Object.entries(a.errors)) out[k] = (out[k] ?? 0) + v;
  return out;
};

export async function runIdlePool(ctx: BenchContext): Promise<ScenarioResult> {
  const p = ctx.profile.idlePool;
  const adminPort = await findFreePort();
  const stack = await startWakeStack(ctx, {
    name: 'idle-pool',
    args: [
      '--auth', 'verify', '--pool-mode', 'transaction', '--admin-port', String(adminPort),
      '--idle-timeout', `${p.idleTimeoutSeconds}s`, '--report-interval', '1s', '--cache-ttl', '100ms',
      '--wake-timeout', '60s', '--autoscale-interval', '0',
    ],
  });
  const project = await stack.createProject('idlepool');
  await (await ComputeWatch.open(stack, project)).close(); // awake before the clients come
  const group = await startWorkers('idle-pool-worker.js', DRIVERS.length);
  const all = <T extends WorkerMessage>(type: string, timeoutMs: number) => Promise.all(group.workers.map((w: Worker) => w.next<T>(type, timeoutMs)));
  try {
    const watch = await ComputeWatch.open(stack, project);
    watch.start(100);
    const pinsBefore = await readPins(adminPort);
    group.workers.forEach((w, i) =>
      w.send({ type: 'open', driver: DRIVERS[i]!, host: '127.0.0.1', port: stack.proxyPort, user: project.user, password: project.password, count: p.clientsPerDriver, inFlight: p.loginsInFlight }),
    );
    const opened = await all<Opened>('opened', 120_000);
    const pinsAfterSetup = await readPins(adminPort);
    await watch.sample();
    const setupThreads = watch.maxThreads;
    say(`${ID}: ${opened.map((o, i) => `${DRIVERS[i]} ${o.opened}`).join(', ')} connected; pins ${showCounts(pinsAfterSetup)}; compute connections so far ${setupThreads}`);
    group.workers.forEach((w) => w.send({ type: 'run', ms: p.runSeconds * 1_000, periodMs: p.periodMs }));
    const ran = await all<Ran>('ran', p.runSeconds * 1_000 + 60_000);
    const idleFrom = Date.now();
    const pinsAfterRun = await readPins(adminPort);
    await watch.close();
    say(`${ID}: ${ran.reduce((s, r) => s + r.statements, 0)} statements; compute connections max ${watch.maxThreads}; now idle`);

    const before = await stack.compute(project.computeId);
    let sleptMs = NaN;
    while (Date.now() - idleFrom < p.maxIdleSeconds * 1_000) {
      const c = await stack.compute(project.computeId);
      if (c.state !== 'active') {
        sleptMs = Date.now() - idleFrom;
        say(`${ID}: compute ${c.state} ${fmt(sleptMs / 1_000)} s after the clients went idle`);
        break;
      }
      await sleep(100);
    }
    await sleep(500); // past the proxy's address cache
    group.workers.forEach((w) => w.send({ type: 'once', spreadMs: p.periodMs }));
    const answered = await all<Answered>('answered', 120_000);
    const after = await stack.compute(project.computeId);
    const wakes = after.resumeCount - before.resumeCount;
    const lastWatch = await ComputeWatch.open(stack, project);
    await lastWatch.close();
    group.workers.forEach((w) => w.send({ type: 'release' }));
    await all('released', 60_000);

    const clients = p.clientsPerDriver * DRIVERS.length;
    const connected = opened.reduce((s, o) => s + o.opened, 0);
    const latencies = answered.flatMap((a) => a.latencies);
    const running = ran.flatMap((r) => r.latencies);
    const logins = opened.flatMap((o) => o.logins);
    const errors = sum(answered);
    const maxUsed = Math.max(watch.maxUsed, lastWatch.maxUsed);
    const maxProxy = Math.max(watch.maxThreads, lastWatch.maxThreads);
    const setupPins = totalOf(pinsAfterSetup) - totalOf(pinsBefore);
    const runPins = totalOf(pinsAfterRun) - totalOf(pinsAfterSetup);
    const targets: TargetCheck[] = [
      { name: `${ID}: compute connections under ${clients} clients (pool max at its default)`, target: `<= ${MAX_COMPUTE_CONNECTIONS}`, measured: String(maxProxy), met: maxProxy <= MAX_COMPUTE_CONNECTIONS },
      { name: `${ID}: session pins from the drivers' setup and statements`, target: '0', measured: String(setupPins + runPins), met: setupPins + runPins === 0 },
      { name: `${ID}: compute asleep under idle, connected clients`, target: `within ${p.maxIdleSeconds} s`, measured: Number.isFinite(sleptMs) ? `${fmt(sleptMs / 1_000)} s` : 'never', met: Number.isFinite(sleptMs) },
      { name: `${ID}: every client's next statement answered, one wake`, target: `${clients} answered, 1 wake, 0 errors`, measured: `${latencies.length} answered, ${wakes} wake(s), ${totalOf(errors)} errors`, met: latencies.length === clients && wakes === 1 && totalOf(errors) === 0 },
    ];
    const pass = targets.every((t) => t.met);
    say(`${ID}: ${pass ? 'PASS' : 'FAIL'}`);
    return {
      id: ID,
      title: `9. Idle pools: ${clients} driver clients in transaction mode, compute asleep under them`,
      tables: [
        {
          title: '',
          columns: ['clients connected', 'compute connections after logins', 'login p50 ms', 'login p99 ms', 'statements', 'compute connections max', 'pins at setup', 'pins while running', 'statement p50 ms', 'statement p99 ms', 'asleep after s', 'wakes', 'wake p50 ms', 'wake p99 ms', 'max ms', 'errors'],
          rows: [[
            `${connected}/${clients}`,
            String(setupThreads),
            fmt(quantileOf(logins, 0.5)),
            fmt(quantileOf(logins, 0.99)),
            String(ran.reduce((s, r) => s + r.statements, 0) + connected + latencies.length),
            `${maxProxy} (Max_used_connections ${maxUsed})`,
            showCounts(pinsAfterSetup),
            showCounts(countsSince(pinsAfterRun, pinsAfterSetup)),
            fmt(quantileOf(running, 0.5)),
            fmt(quantileOf(running, 0.99)),
            fmt(sleptMs / 1_000),
            String(wakes),
            fmt(quantileOf(latencies, 0.5)),
            fmt(quantileOf(latencies, 0.99)),
            fmt(Math.max(...latencies)),
            String(totalOf(errors)),
          ]],
        },
      ],
      charts: [],
      targets,
      notes: [
        `Method: \`wake-proxy dev --auth verify --pool-mode transaction --idle-timeout ${p.idleTimeoutSeconds}s\` (--pool-max-per-compute at its default); ${p.clientsPerDriver} mysql2 clients (execute(), a binary prepared statement) in one process and ${p.clientsPerDriver} npm mariadb clients (execute() and query() by halves) in another, logging in ${p.loginsInFlight} at a time per driver (a login's latency is the driver's connect, to the login's OK); each runs SELECT ? + 0 and checks the answer, about every ${p.periodMs} ms (0.5-1.5x, random) for ${p.runSeconds} s; "statement p50/p99" is its latency from sending to the checked answer over that run. Compute connections are the proxy's logins as the compute lists them (information_schema.PROCESSLIST, the project's user), sampled every 100 ms over a direct login to the compute (not through the proxy) and less that login; Max_used_connections beside it also counts the admin login and the control plane's health probe. Pins are the proxy's wakeproxy_pool_session_pins_total.`,
        `Then every client stays connected and idle; "asleep after" runs from the end of the load until the control plane reports the compute no longer active. Each client then sends its next statement at a random moment within ${p.periodMs} ms; its latency is from sending to the checked answer, the first ones including the wake.`,
        ...Object.entries(errors).map(([k, v]) => `error x${v}: ${k}`),
        `Result: ${pass ? 'PASS' : 'FAIL'} against the issue's figures (<= ${MAX_COMPUTE_CONNECTIONS} compute connections, 0 pins, compute asleep, woken once, 0 errors).`,
      ],
      data: { profile: p, connected, setupThreads, pinsBefore, pinsAfterSetup, pinsAfterRun, maxUsed, maxProxy, sleptMs, wakes, latencies, running, logins, errors },
    };
  } finally {
    await group.stop();
  }
}
