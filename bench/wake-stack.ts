// The serverless path for the cold-wake and storm scenarios: `wake-proxy dev`
// (control plane with the process driver + proxy) in its own process, plus a
// small client for the control API to create projects and put computes to
// sleep.
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
  /** What a client sends: `<project>.<user>`. */
  user: string;
  password: string;
}

export interface ComputeInfo {
  state: string;
  resumeCount: number;
}

export interface WakeStack {
  proxyPort: number;
  controlUrl: string;
  createProject(name: string): Promise<ProjectAccess>;
  compute(id: string): Promise<ComputeInfo>;
  /** Suspends and waits until the control plane reports the tier reached. */
  suspend(computeId: string, tier: 'stop' | 'freeze'): Promise<void>;
}

/**
 * The proxy's address cache is cut to 100 ms: in real use a compute sleeps
 * after minutes of idleness, long after the default 10 s cache has expired, and
 * the bench should measure that situation without waiting 10 s per run.
 */
const CACHE_TTL = '100ms';

export async function startWakeStack(ctx: BenchContext): Promise<WakeStack> {
  const dataDir = join(ctx.workDir, 'control-plane');
  const proxyPort = await findFreePort();
  const controlPort = await findFreePort();
  const controlUrl = `http://127.0.0.1:${controlPort}`;
  // Registered first so it runs last: computes the dev process failed to stop.
  onCleanup('stray computes', () => killStrayMariadbd(dataDir));
  const started = await startProxyProcess({
    command: 'dev',
    args: ['--data-dir', dataDir, '--control-port', String(controlPort), '--cache-ttl', CACHE_TTL, '--wake-timeout', '60s'],
    port: proxyPort,
    label: 'wake-stack-dev',
    logPath: join(ctx.outDir, 'logs', 'wake-stack-dev.log'),
    cpuProfDir: ctx.cpuProfDir,
    stopGraceMs: 60_000,
  });
  if (!started.ok) throw new Error(`wake-proxy dev did not start: ${started.reason}`);
  say(`wake stack: proxy on ${proxyPort}, control API ${controlUrl}`);

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
    controlUrl,
    async createProject(name) {
      const b = await api('POST', '/api/v1/projects', { name });
      return { project: name, computeId: b.compute.id, user: `${name}.${b.user}`, password: b.password };
    },
    async compute(id) {
      const b = await api('GET', `/api/v1/compute/${id}`);
      return { state: b.state, resumeCount: b.resumeCount };
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
