// The MariaDB that the steady-state scenarios (point selects, churn, TLS) run
// against: a compute of a control plane of its own (`wake-proxy dev` with the
// process driver), so that direct connections, HAProxy, `proxy --backend`
// (pipe) and `proxy --control-url` processes in the pooled modes all reach the
// same server. Pooling needs proxy-verified logins, hence a control plane and a
// project: its clients log in as `<project>.<user>` with the owner's
// credentials, which the control API answers once at creation. The `dev`
// process's own proxy carries no contender: its CPU would include the control
// plane's.
import mysql from 'mysql2/promise';
import type { Credentials } from './mariadb.js';
import { BENCH_DATABASE } from './mariadb.js';
import { prepareTableWithMysql2 } from './mysql2-load.js';
import { findMariadbdByPort } from './proc-info.js';
import { say, type BenchContext } from './scenario.js';
import { findSysbench, prepareSysbench } from './sysbench.js';
import { startWakeStack } from './wake-stack.js';

const PROJECT = 'bench';

/** How a client of a proxy in front of the control plane logs in to the bench project. */
export interface ProjectLogin {
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
  /** The project's login through a proxy in front of the control plane (the pooled modes). */
  login: ProjectLogin;
  /** The target's control API, for the pooled-mode proxies in front of it. */
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
  const stack = await startWakeStack(ctx, { name: 'target', args: BASE_ARGS });
  const project = await stack.createProject(PROJECT);
  const backend = await stack.address(project.computeId);
  const creds = { user: project.ownerUser, password: project.password };
  await createBenchDatabase(backend, creds);
  const backendPid = await findMariadbdByPort(backend.port);
  say(`target: compute ${project.computeId} on port ${backend.port}, control API ${stack.controlUrl}`);
  return { backend, creds, backendPid, login: { user: project.user, password: project.password }, controlUrl: stack.controlUrl };
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
