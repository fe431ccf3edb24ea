// Who is compared: a direct connection, HAProxy in TCP mode, and the proxy in
// each pool mode, all in front of the same mariadbd. The list is data so that
// pool modes slot in as the proxy grows them; a contender that cannot run here
// (no HAProxy installed, a pool mode the proxy rejects) is skipped with the
// reason, never silently dropped.
import { join } from 'node:path';
import { findFreePort } from '../control-plane/drivers/free-port.js';
import { PROXY_ONLY_OPTIONS, PROXY_OPTIONS } from '../cli/tables.js';
import { findHaproxy, startHaproxy } from './haproxy.js';
import type { RunningMariadb, Credentials } from './mariadb.js';
import { startProxyProcess } from './proxy-process.js';
import type { BenchContext } from './scenario.js';

export const POOL_MODES = ['pipe', 'session', 'transaction'] as const;
export type PoolMode = (typeof POOL_MODES)[number];

export interface ContenderSpec {
  id: string;
  label: string;
  kind: 'direct' | 'haproxy' | 'proxy';
  poolMode?: PoolMode;
}

export const CONTENDERS: ContenderSpec[] = [
  { id: 'direct', label: 'direct', kind: 'direct' },
  { id: 'haproxy', label: 'HAProxy (TCP)', kind: 'haproxy' },
  ...POOL_MODES.map((m): ContenderSpec => ({ id: `proxy-${m}`, label: `proxy ${m}`, kind: 'proxy', poolMode: m })),
];

/** Where a load generator connects to reach the backend through one contender. */
export interface Endpoint {
  host: string;
  port: number;
  user: string;
  password: string;
}

export interface Contender {
  spec: ContenderSpec;
  endpoint: Endpoint;
  /** The process between client and backend (HAProxy, the proxy), whose CPU use is measured. */
  pid?: number;
}

export interface ContenderSet {
  running: Contender[];
  skipped: Array<{ spec: ContenderSpec; reason: string }>;
  stop(): Promise<void>;
}

/** Whether this build of the proxy has a --pool-mode flag, and which values it takes. */
function poolModeSupport(): { flag: boolean; choices: readonly string[] | undefined } {
  const spec = PROXY_OPTIONS['pool-mode'] ?? PROXY_ONLY_OPTIONS['pool-mode'];
  return { flag: spec !== undefined, choices: spec?.choices };
}

export async function startContenders(
  ctx: BenchContext,
  scenario: string,
  backend: RunningMariadb,
  creds: Credentials,
  specs: ContenderSpec[] = CONTENDERS,
): Promise<ContenderSet> {
  const running: Contender[] = [];
  const skipped: ContenderSet['skipped'] = [];
  const stops: Array<() => Promise<void>> = [];
  const at = (port: number): Endpoint => ({ host: '127.0.0.1', port, ...creds });
  const modes = poolModeSupport();
  try {
    for (const spec of specs) {
      if (spec.kind === 'direct') {
        running.push({ spec, endpoint: at(backend.port) });
      } else if (spec.kind === 'haproxy') {
        const binary = await findHaproxy();
        if (!binary) {
          skipped.push({ spec, reason: 'haproxy is not installed' });
          continue;
        }
        const h = await startHaproxy(binary, backend, ctx.workDir, join(ctx.outDir, 'logs', `${scenario}-haproxy.log`));
        stops.push(h.stop);
        running.push({ spec, endpoint: at(h.port), pid: h.pid });
      } else {
        const mode = spec.poolMode ?? 'pipe';
        if (!modes.flag && mode !== 'pipe') {
          skipped.push({ spec, reason: 'the proxy has no --pool-mode flag yet (pipe only)' });
          continue;
        }
        if (modes.choices && !modes.choices.includes(mode)) {
          skipped.push({ spec, reason: `--pool-mode takes ${modes.choices.join(', ')}` });
          continue;
        }
        const port = await findFreePort();
        const label = `${scenario}-${spec.id}`;
        const outcome = await startProxyProcess({
          command: 'proxy',
          args: ['--backend', `${backend.host}:${backend.port}`, ...(modes.flag ? ['--pool-mode', mode] : [])],
          port,
          label,
          logPath: join(ctx.outDir, 'logs', `${label}.log`),
          cpuProfDir: ctx.cpuProfDir,
        });
        if (!outcome.ok) {
          skipped.push({ spec, reason: `the proxy refused to start: ${outcome.reason}` });
          continue;
        }
        stops.push(outcome.proxy.stop);
        running.push({ spec, endpoint: at(port), pid: outcome.proxy.pid });
      }
    }
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
