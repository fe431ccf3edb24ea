// Who is compared: a direct connection, HAProxy in TCP mode, a bare Node
// pipe() relay (what Node's sockets alone cost), and the proxy in
// each pool mode, all in front of the same compute (bench-target.ts). The list
// is data so that pool modes slot in as the proxy grows them; a contender that
// cannot run here (no HAProxy installed, a pool mode the proxy rejects) is
// skipped with the reason, never silently dropped.
//
// Pipe runs as `proxy --backend` (static backend, passthrough auth). Pooling
// needs proxy-verified logins, which only a proxy in front of a control API
// does, so `session` and `transaction` are each a `proxy --control-url
// --pool-mode <mode>` process of its own in front of the target's control
// plane, reached as `<project>.<user>`: the CPU measured is the proxy's alone.
import { join } from 'node:path';
import { findFreePort } from '../control-plane/drivers/free-port.js';
import { VERIFY_OPTIONS } from '../cli/proxy-options.js';
import type { BenchTarget } from './bench-target.js';
import { findHaproxy, startHaproxy } from './haproxy.js';
import { startNodeRelay } from './node-relay.js';
import { startWireFloor } from './node-wire-floor.js';
import { startPooledFloor } from './node-pooled-floor.js';
import { BENCH_DATABASE } from './mariadb.js';
import { startProxyProcess, type StartOutcome } from './proxy-process.js';
import type { BenchContext } from './scenario.js';
import { BASELINE_MODES, type BaselineMode } from './options.js';
import { pinProcess } from './placement.js';

export const POOL_MODES = ['pipe', 'session', 'transaction'] as const;
export type PoolMode = (typeof POOL_MODES)[number];

export interface ContenderSpec {
  id: string;
  label: string;
  kind: 'direct' | 'haproxy' | 'node-relay' | 'wire-floor' | 'pooled-floor' | 'proxy';
  poolMode?: PoolMode;
  /** Run the --baseline build's proxy instead of this one. */
  baseline?: boolean;
  /** Run the proxy with --workers n (n processes on one port, sharing the bench's Redis). */
  workers?: number;
}

export const CONTENDERS: ContenderSpec[] = [
  { id: 'direct', label: 'direct', kind: 'direct' },
  { id: 'haproxy', label: 'HAProxy (TCP)', kind: 'haproxy' },
  { id: 'node-relay', label: 'Node pipe() relay', kind: 'node-relay' },
  ...POOL_MODES.map((m): ContenderSpec => ({ id: `proxy-${m}`, label: `proxy ${m}`, kind: 'proxy', poolMode: m })),
];

/**
 * A Node server that answers the login and `SELECT 1` itself (node-wire-floor.ts): the
 * least a pooled proxy in Node spends per connection. Churn only: it has no data.
 */
export const WIRE_FLOOR: ContenderSpec = { id: 'node-wire-floor', label: 'Node wire floor (no backend)', kind: 'wire-floor' };

/**
 * The wire floor plus a compute connection kept logged in between clients, to which
 * every query goes (node-pooled-floor.ts): the least a pooled proxy in Node spends per
 * connection while still reaching the compute. Churn only.
 */
export const POOLED_FLOOR: ContenderSpec = { id: 'node-pooled-floor', label: 'Node pooled floor', kind: 'pooled-floor' };

/** The baseline build's proxies, in the modes that run as processes of their own. */
const BASELINE_CONTENDERS: ContenderSpec[] = BASELINE_MODES.map((m) => ({
  id: `proxy-${m}-baseline`,
  label: `proxy ${m} (baseline)`,
  kind: 'proxy',
  poolMode: m,
  baseline: true,
}));

/** This build's proxy as n processes on one port, in each pool mode. */
function workerContenders(n: number): ContenderSpec[] {
  return POOL_MODES.map((m) => ({ id: `proxy-${m}-workers`, label: `proxy ${m} (${n} workers)`, kind: 'proxy', poolMode: m, workers: n }));
}

/** Every contender of this run: the baseline build's too with --baseline, several workers' with --workers. */
export function contendersFor(ctx: BenchContext): ContenderSpec[] {
  return [
    ...CONTENDERS,
    ...(ctx.proxyWorkers ? workerContenders(ctx.proxyWorkers) : []),
    ...(ctx.baselineHost ? BASELINE_CONTENDERS.filter((c) => ctx.baselineModes.includes(c.poolMode as BaselineMode)) : []),
  ];
}

/** Where a load generator connects to reach the backend through one contender. */
export interface Endpoint {
  host: string;
  port: number;
  user: string;
  password: string;
  /** Ask for TLS (SSLRequest), certificate not checked (the bench's is self-signed). */
  tls?: boolean;
}

export interface Contender {
  spec: ContenderSpec;
  endpoint: Endpoint;
  /** The process between client and backend (HAProxy, the proxy), whose CPU use is measured. */
  pid?: number;
  /** Count the CPU of pid's descendants too (a proxy's workers). */
  cpuOfTree?: boolean;
  /** A transaction-mode proxy's admin HTTP port (its /metrics). */
  adminPort?: number;
}

export interface ContenderSet {
  running: Contender[];
  skipped: Array<{ spec: ContenderSpec; reason: string }>;
  stop(): Promise<void>;
}

/** The pool modes this build of the proxy takes (in front of a control API). */
function poolModeChoices(): readonly string[] {
  return VERIFY_OPTIONS['pool-mode']?.choices ?? ['pipe'];
}

export async function startContenders(
  ctx: BenchContext,
  scenario: string,
  target: BenchTarget,
  specs: ContenderSpec[] = contendersFor(ctx),
): Promise<ContenderSet> {
  const running: Contender[] = [];
  const skipped: ContenderSet['skipped'] = [];
  const stops: Array<() => Promise<void>> = [];
  const { backend, creds } = target;
  const at = (port: number): Endpoint => ({ host: '127.0.0.1', port, ...creds });
  const modes = poolModeChoices();
  try {
    for (const spec of specs) {
      const mode = spec.poolMode ?? 'pipe';
      const hostScript = spec.baseline ? ctx.baselineHost : undefined;
      const workerArgs = spec.workers ? ['--workers', String(spec.workers), '--redis', await ctx.redisUrl()] : [];
      const cpuOfTree = spec.workers !== undefined;
      if (spec.kind === 'direct') {
        running.push({ spec, endpoint: { ...backend, ...creds } });
      } else if (spec.kind === 'haproxy') {
        const binary = await findHaproxy();
        if (!binary) {
          skipped.push({ spec, reason: 'haproxy is not installed' });
          continue;
        }
        const h = await startHaproxy(binary, backend, ctx.workDir, join(ctx.outDir, 'logs', `${scenario}-haproxy.log`));
        stops.push(h.stop);
        running.push({ spec, endpoint: at(h.port), pid: h.pid });
      } else if (spec.kind === 'node-relay') {
        const r = await startNodeRelay(backend);
        stops.push(r.stop);
        running.push({ spec, endpoint: at(r.port), pid: r.pid });
      } else if (spec.kind === 'wire-floor') {
        const f = await startWireFloor();
        stops.push(f.stop);
        running.push({ spec, endpoint: at(f.port), pid: f.pid });
      } else if (spec.kind === 'pooled-floor') {
        const f = await startPooledFloor({ ...backend, ...creds, database: BENCH_DATABASE });
        stops.push(f.stop);
        running.push({ spec, endpoint: at(f.port), pid: f.pid });
      } else if (!modes.includes(mode)) {
        skipped.push({ spec, reason: `--pool-mode takes ${modes.join(', ')}` });
      } else if (mode === 'pipe') {
        const outcome = await startPipeProxy(ctx, `${scenario}-${spec.id}`, backend, workerArgs, hostScript);
        if (!outcome.ok) {
          skipped.push({ spec, reason: `the proxy refused to start: ${outcome.reason}` });
          continue;
        }
        stops.push(outcome.proxy.stop);
        running.push({ spec, endpoint: at(outcome.proxy.port), pid: outcome.proxy.pid, cpuOfTree });
      } else {
        const adminPort = await findFreePort();
        const outcome = await startPooledProxy(ctx, `${scenario}-${spec.id}`, target.controlUrl, mode, hostScript, adminPort, workerArgs);
        if (!outcome.ok) {
          skipped.push({ spec, reason: `the proxy refused to start: ${outcome.reason}` });
          continue;
        }
        stops.push(outcome.proxy.stop);
        running.push({ spec, endpoint: { host: '127.0.0.1', port: outcome.proxy.port, ...target.login }, pid: outcome.proxy.pid, cpuOfTree, adminPort });
      }
    }
    const { placement } = ctx;
    if (placement) for (const c of running) if (c.pid !== undefined) await pinProcess(c.pid, placement.contenders);
  } catch (err) {
    for (const s of stops.reverse()) await s();
    throw err;
  }
  return {
    running,
    skipped,
    async stop() {
      for (const s of stops.reverse()) await s();
    },
  };
}

/** `proxy --control-url` in a pool mode (verified logins) in its own process, in front of a control plane. */
export async function startPooledProxy(
  ctx: BenchContext,
  label: string,
  controlUrl: string,
  mode: 'session' | 'transaction',
  hostScript?: string,
  adminPort?: number,
  extraArgs: string[] = [],
): Promise<StartOutcome> {
  return startProxyProcess({
    hostScript,
    adminPort,
    command: 'proxy',
    args: ['--control-url', controlUrl, '--auth', 'verify', '--pool-mode', mode, ...extraArgs],
    port: await findFreePort(),
    label,
    logPath: join(ctx.outDir, 'logs', `${label}.log`),
    cpuProfDir: ctx.cpuProfDir,
    nodeFlags: hostScript ? [] : ctx.nodeFlags,
  });
}

/** `proxy --backend` in pipe mode (passthrough auth) in its own process; extra flags e.g. for TLS. */
export async function startPipeProxy(
  ctx: BenchContext,
  label: string,
  backend: { host: string; port: number },
  extraArgs: string[] = [],
  hostScript?: string,
): Promise<StartOutcome> {
  return startProxyProcess({
    hostScript,
    command: 'proxy',
    args: ['--backend', `${backend.host}:${backend.port}`, ...extraArgs],
    port: await findFreePort(),
    label,
    logPath: join(ctx.outDir, 'logs', `${label}.log`),
    cpuProfDir: ctx.cpuProfDir,
    nodeFlags: hostScript ? [] : ctx.nodeFlags,
  });
}
