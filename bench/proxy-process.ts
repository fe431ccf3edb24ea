// Starting and stopping a wake-proxy (`proxy` or `dev`) in its own process via
// proxy-host.ts, optionally under --cpu-prof.
import type { ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { onCleanup } from './cleanup.js';
import { forkGroup, stopGroup } from './processes.js';

const HOST_SCRIPT = fileURLToPath(new URL('./proxy-host.js', import.meta.url));

export interface MemorySample {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
}

export interface ProxyProcess {
  port: number;
  pid: number;
  /** Memory after a full GC, as the proxy process itself reports it. */
  memory(): Promise<MemorySample>;
  stop(): Promise<void>;
}

export type StartOutcome = { ok: true; proxy: ProxyProcess } | { ok: false; reason: string };

export interface ProxyStart {
  command: 'proxy' | 'dev';
  /** Flags of that command, besides the listening and logging ones set here. */
  args: string[];
  port: number;
  label: string;
  /** The proxy's own log (warnings and errors) goes here rather than into the tables. */
  logPath: string;
  cpuProfDir?: string | undefined;
  /** Extra Node/V8 flags (--node-flags). */
  nodeFlags?: readonly string[];
  timeoutMs?: number;
  /** Grace period on stop: `dev` stops its computes too. */
  stopGraceMs?: number;
  /** Another build's proxy-host.js (--baseline); default this build's. */
  hostScript?: string | undefined;
  /** Where admin HTTP (/metrics) listens; default a port the system picks, not told. */
  adminPort?: number | undefined;
}

export async function startProxyProcess(s: ProxyStart): Promise<StartOutcome> {
  const execArgv = ['--expose-gc', ...(s.nodeFlags ?? [])];
  if (s.cpuProfDir) execArgv.push('--cpu-prof', `--cpu-prof-dir=${s.cpuProfDir}`, `--cpu-prof-name=${s.label}.cpuprofile`);
  // Admin HTTP on a free port (several proxies run at once); a short drain so a stop is quick.
  // The log level is the default (info), as shipped: its line per session is part of a connection's cost.
  const argv = [
    s.command,
    '--port', String(s.port),
    '--host', '127.0.0.1',
    '--admin-port', String(s.adminPort ?? 0),
    '--admin-host', '127.0.0.1',
    '--drain-timeout', '2s',
    ...s.args,
  ];
  const log = openSync(s.logPath, 'a');
  let child: ChildProcess;
  try {
    child = forkGroup(s.hostScript ?? HOST_SCRIPT, argv, { execArgv, stdio: ['ignore', log, log, 'ipc'] });
  } finally {
    closeSync(log); // the child has its own copy
  }
  const stop = onCleanup(`${s.label} (pid ${child.pid})`, () => stopGroup(child, s.stopGraceMs ?? 10_000));
  const outcome = await waitReady(child, s.timeoutMs ?? 120_000);
  if (outcome !== 'ready') {
    await stop();
    return { ok: false, reason: outcome.rejected };
  }
  return {
    ok: true,
    proxy: { port: s.port, pid: child.pid!, memory: () => askMemory(child), stop },
  };
}

function waitReady(child: ChildProcess, timeoutMs: number): Promise<'ready' | { rejected: string }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`proxy not ready within ${timeoutMs} ms`)), timeoutMs);
    const onMessage = (m: { type?: string; message?: string }) => {
      if (m?.type === 'ready') finish(null, 'ready');
      if (m?.type === 'rejected') finish(null, { rejected: m.message ?? 'rejected' });
    };
    const onExit = (code: number | null) => finish(new Error(`proxy exited (${code}) before it was ready`));
    function finish(err: Error | null, value?: 'ready' | { rejected: string }) {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(value!);
    }
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

function askMemory(child: ChildProcess): Promise<MemorySample> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error('proxy did not report its memory within 30 s')), 30_000);
    const onMessage = (m: MemorySample & { type?: string }) => {
      if (m?.type === 'memory') finish(null, m);
    };
    function finish(err: Error | null, m?: MemorySample) {
      clearTimeout(timer);
      child.off('message', onMessage);
      if (err) reject(err);
      else resolve({ rss: m!.rss, heapUsed: m!.heapUsed, heapTotal: m!.heapTotal, external: m!.external, arrayBuffers: m!.arrayBuffers });
    }
    child.on('message', onMessage);
    child.send({ type: 'memory' });
  });
}
