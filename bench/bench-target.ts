// The MariaDB that the steady-state scenarios (point selects, churn, TLS) run
// against: a compute of a control plane of its own (`wake-proxy dev` with the
// process driver), so that direct connections, HAProxy, `proxy --backend`
// (pipe) and that control plane's own proxy in session pool mode all reach the
// same server. Session pooling needs proxy-verified logins, hence a control
// plane and a project: its clients log in as `<project>.<user>` with the
// owner's credentials, which the control API answers once at creation.
import mysql from 'mysql2/promise';
import type { Credentials } from './mariadb.js';
import { BENCH_DATABASE } from './mariadb.js';
import { prepareTableWithMysql2 } from './mysql2-load.js';
import { findMariadbdByPort } from './proc-info.js';
import { say, type BenchContext } from './scenario.js';
import { findSysbench, prepareSysbench } from './sysbench.js';
import { StackRejected, startWakeStack, type WakeStack } from './wake-stack.js';

const PROJECT = 'bench';

export interface PooledProxy {
  port: number;
  /** The `dev` process; its CPU time includes the (idle) control plane. */
  pid: number;
  /** `<project>.<user>`, as the proxy wants it. */
  user: string;
  password: string;
}

export interface BenchTarget {
  /** The compute's own address: direct, HAProxy and the static-backend proxy connect here. */
  backend: { host: string; port: number };
  /** The project owner as the compute knows it (no project prefix). */
  creds: Credentials;
  /** The compute's mariadbd, whose CPU per operation the tables show; undefined if not found. */
  backendPid: number | undefined;
  /** The control plane's proxy in session pool mode; undefined when it refused the mode. */
  pooled: PooledProxy | undefined;
  /** Why there is no session-mode proxy. */
  pooledSkipped: string | undefined;
  /** The target's control API, for more proxies in front of it (transaction mode). */
  controlUrl: string;
}

/**
 * The idle scheduler is off (--idle-timeout 0): direct and HAProxy traffic
 * reports no activity, and a compute suspended mid-run would measure a wake.
 * So are the autoscaler and the compute's limits: these scenarios measure the
 * path to one compute, which must stay the same size for every contender and
 * round, and not be the bottleneck.
 */
const BASE_ARGS = ['--idle-timeout', '0', '--wake-timeout', '60s', '--autoscale-interval', '0', '--cgroups', 'off'];

export async function startBenchTarget(ctx: BenchContext): Promise<BenchTarget> {
  let stack: WakeStack;
  let pooledSkipped: string | undefined;
  try {
    stack = await startWakeStack(ctx, { name: 'target', args: [...BASE_ARGS, '--pool-mode', 'session'] });
  } catch (err) {
    if (!(err instanceof StackRejected)) throw err;
    pooledSkipped = `the proxy refused --pool-mode session: ${err.reason}`;
    say(`target: ${pooledSkipped}; continuing in pipe mode`);
    stack = await startWakeStack(ctx, { name: 'target-pipe', args: BASE_ARGS });
  }
  const project = await stack.createProject(PROJECT);
  const backend = await stack.address(project.computeId);
  const creds = { user: project.ownerUser, password: project.password };
  await createBenchDatabase(backend, creds);
  const backendPid = await findMariadbdByPort(backend.port);
  say(`target: compute ${project.computeId} on port ${backend.port}, session proxy ${pooledSkipped ? 'skipped' : `on ${stack.proxyPort}`}`);
  return {
    backend,
    creds,
    backendPid,
    pooled: pooledSkipped ? undefined : { port: stack.proxyPort, pid: stack.pid, user: project.user, password: project.password },
    pooledSkipped,
    controlUrl: stack.controlUrl,
  };
}

/** sysbench's database, made directly on the compute (the owner may create databases). */
async function createBenchDatabase(backend: { host: string; port: number }, creds: Credentials): Promise<void> {
  const c = await mysql.createConnection({ ...backend, ...creds, connectTimeout: 10_000 });
  try {
    await c.query(`CREATE DATABASE IF NOT EXISTS ${BENCH_DATABASE}`);
  } finally {
    await c.end().catch(() => {});
  }
}

const tables = new WeakMap<BenchTarget, Promise<void>>();

/** sysbench's sbtest1 with `rows` rows on the compute, made once per run (with mysql2 when sysbench is missing). */
export function ensureBenchTable(target: BenchTarget, rows: number): Promise<void> {
  let made = tables.get(target);
  if (!made) {
    const direct = { ...target.backend, ...target.creds };
    made = findSysbench().then((sysbench) => (sysbench ? prepareSysbench(sysbench, direct, rows) : prepareTableWithMysql2(direct, rows)));
    tables.set(target, made);
  }
  return made;
}
