// The serverless path: `wake-proxy dev` (control plane with the process
// driver + proxy) in its own process, plus a small client for the control API
// to create projects, find their computes and put them to sleep. Cold wake and
// storm use one with a short address cache; bench-target.ts starts another
// for the steady-state scenarios.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { findFreePort } from '../control-plane/drivers/free-port.js';
import { onCleanup } from './cleanup.js';
import { sleep } from './processes.js';
import { startProxyProcess } from './proxy-process.js';
import { say, type BenchContext } from './scenario.js';

export interface ProjectAccess {
  project: string;
  computeId: string;
  /** What a client of the proxy sends: `<project>.<user>`. */
  user: string;
  /** The owner as the compute itself knows it, for direct connections. */
  ownerUser: string;
  password: string;
}

export interface ComputeInfo {
  state: string;
  resumeCount: number;
  /** Its size in CU. */
  cu: number;
}

export interface WakeStack {
  proxyPort: number;
  /** The `dev` process (proxy and control plane), whose CPU use is measured. */
  pid: number;
  controlUrl: string;
  /** `settings`: what POST /api/v1/projects takes besides the name (minCu, maxCu, quota). */
  createProject(name: string, settings?: Record<string, unknown>): Promise<ProjectAccess>;
  compute(id: string): Promise<ComputeInfo>;
  /** Where an awake compute listens; throws if it is not awake. */
  address(computeId: string): Promise<{ host: string; port: number }>;
  /** Suspends and waits until the control plane reports the tier reached. */
  suspend(computeId: string, tier: 'stop' | 'freeze'): Promise<void>;
}

/**
 * The proxy's address cache is cut to 100 ms: in real use a compute sleeps
 * after minutes of idleness, long after the default 10 s cache has expired, and
 * the bench should measure that situation without waiting 10 s per run.
 */
const CACHE_TTL = '100ms';

export interface WakeStackOptions {
  /** Names the data directory and the log, so that several stacks can run at once. */
  name: string;
  /** Flags of `dev` besides ports, data directory and logging. */
  args: string[];
}

/** Computes start with their limits (as in real use, the wake path includes them) but are never resized mid-run. */
const COLD_WAKE_STACK: WakeStackOptions = { name: 'wake-stack', args: ['--cache-ttl', CACHE_TTL, '--wake-timeout', '60s', '--autoscale-interval', '0'] };

/** `dev` refused its flags (e.g. a pool mode this build does not have). */
export class StackRejected extends Error {
  constructor(readonly reason: string) {
    super(`wake-proxy dev did not start: ${reason}`);
  }
}

export async function startWakeStack(ctx: BenchContext, o: WakeStackOptions = COLD_WAKE_STACK): Promise<WakeStack> {
  const dataDir = join(ctx.workDir, o === COLD_WAKE_STACK ? 'control-plane' : `${o.name}-control-plane`);
  const proxyPort = await findFreePort();
  const controlPort = await findFreePort();
  const controlUrl = `http://127.0.0.1:${controlPort}`;
  // Registered first so it runs last: computes the dev process failed to stop.
  onCleanup(`stray computes of ${o.name}`, () => killStrayMariadbd(dataDir));
  const started = await startProxyProcess({
    command: 'dev',
    args: ['--data-dir', dataDir, '--control-port', String(controlPort), ...o.args],
    port: proxyPort,
    label: `${o.name}-dev`,
    logPath: join(ctx.outDir, 'logs', `${o.name}-dev.log`),
    cpuProfDir: ctx.cpuProfDir,
    stopGraceMs: 60_000,
  });
  if (!started.ok) throw new StackRejected(started.reason);
  say(`${o.name}: proxy on ${proxyPort}, control API ${controlUrl}`);

  async function api(method: 'GET' | 'POST', path: string, body?: unknown): Promise<any> {
    const res = await request(`${controlUrl}${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      headersTimeout: 120_000,
      bodyTimeout: 120_000,
    });
    const text = await res.body.text();
    if (res.statusCode >= 300) throw new Error(`${method} ${path}: HTTP ${res.statusCode} ${text}`);
    return text ? JSON.parse(text) : undefined;
  }

  const stack: WakeStack = {
    proxyPort,
    pid: started.proxy.pid,
    controlUrl,
    async createProject(name, settings = {}) {
      const b = await api('POST', '/api/v1/projects', { name, ...settings });
      return { project: name, computeId: b.compute.id, user: `${name}.${b.user}`, ownerUser: b.user, password: b.password };
    },
    async compute(id) {
      const b = await api('GET', `/api/v1/compute/${id}`);
      return { state: b.state, resumeCount: b.resumeCount, cu: b.cu };
    },
    async address(id) {
      const b = await api('GET', `/api/v1/compute/${id}`);
      if (b.state !== 'active' || typeof b.host !== 'string' || typeof b.port !== 'number') {
        throw new Error(`compute ${id} is ${b.state}, not awake with an address`);
      }
      return { host: b.host, port: b.port };
    },
    async suspend(computeId, tier) {
      await api('POST', `/api/v1/compute/${computeId}/suspend`, { tier });
      const want = tier === 'stop' ? 'stopped' : 'frozen';
      for (let i = 0; i < 300; i++) {
        const c = await stack.compute(computeId);
        if (c.state === want) return;
        await sleep(100);
      }
      throw new Error(`compute ${computeId} not ${want} 30 s after suspend`);
    },
  };
  return stack;
}

/** mariadbd processes whose --datadir lies under dir: only ever ones this bench started. */
async function killStrayMariadbd(dir: string): Promise<void> {
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    const args = cmdline.split('\0');
    if (!args[0]?.endsWith('mariadbd') || !args.some((a) => a.startsWith(`--datadir=${dir}/`))) continue;
    try {
      process.kill(Number(entry), 'SIGCONT');
      process.kill(Number(entry), 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
}
