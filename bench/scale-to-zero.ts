// `node dist/bench/scale-to-zero.js [--wakes N]`: the scale-to-zero cycle on
// this machine, through the real proxy, control plane, idle scheduler and
// mariadbd. Prints a markdown table of:
//   - frozen-tier resume: the scheduler froze the compute; connect -> first result;
//   - stopped-tier resume: the compute stopped; connect -> first result;
//   - bare mariadbd start on the same datadir: spawn -> first result, direct;
//   - the delay from the last client leaving to the scheduler's freeze.
// Everything it starts is stopped and its directory removed, also on failure.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { startControlPlane, type ControlPlane } from '../control-plane/server.js';
import { MemoryActivityStore } from '../activity/memory-activity-store.js';
import { computePaths } from '../control-plane/drivers/compute-files.js';
import { findFreePort } from '../control-plane/drivers/free-port.js';
import { createControlApiResolver } from '../control-client/control-api-resolver.js';
import { ActivityReporter } from '../proxy/activity-reporter.js';
import { startProxy, type ProxyServer } from '../proxy/server.js';
import { timedConnectAndSelect, type WireTarget } from './wire-client.js';

const IDLE_MS = 1_000;
const REPORT_MS = 200;
const CHECK_MS = 50;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const wakes = Number(process.argv[process.argv.indexOf('--wakes') + 1]) || 20;
  const dir = await mkdtemp(join(tmpdir(), 'wake-proxy-s2z-'));
  const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });
  const store = new MemoryActivityStore();
  let cp: ControlPlane | undefined;
  let proxy: ProxyServer | undefined;
  const reporter = new ActivityReporter({ store, intervalMs: REPORT_MS, logger });
  // The address cache is off: a frozen compute is only ever met after the cache TTL ran out.
  const idle = { idleTimeoutMs: IDLE_MS, coldTimeoutMs: 3_600_000, reportIntervalMs: REPORT_MS, checkIntervalMs: CHECK_MS };
  try {
    cp = await startControlPlane({ dataDir: dir, logger, activity: store, idle });
    const resolver = createControlApiResolver({ url: cp.url, wakeTimeoutMs: 30_000, cacheTtlMs: 0 });
    proxy = await startProxy({ host: '127.0.0.1', port: 0, resolver, logger, activity: reporter });
    const created = await (await fetch(`${cp.url}/api/v1/projects`, { method: 'POST', body: JSON.stringify({ name: 'bench' }) })).json();
    const target: WireTarget = { host: '127.0.0.1', port: proxy.port, user: `bench.${created.user}`, password: created.password };
    const computeId: string = created.compute.id;
    const service = cp.service;
    const state = async () => (await service.getCompute(computeId)).state;

    const frozen: number[] = [];
    const idleDelay: number[] = [];
    for (let i = 0; i < wakes; i++) {
      await timedConnectAndSelect(target, 30_000);
      const left = performance.now();
      while ((await state()) !== 'frozen') await sleep(2);
      idleDelay.push(performance.now() - left);
      // A client comes back some time later, not in the freeze's own millisecond.
      await sleep(100 + ((i * 37) % 200));
      const ft = await timedConnectAndSelect(target, 30_000);
      if (process.env.S2Z_DEBUG) console.error(JSON.stringify(ft));
      frozen.push(ft.total);
      await sleep(REPORT_MS); // the next leave is a fresh one
    }

    const stopped: number[] = [];
    for (let i = 0; i < wakes; i++) {
      await service.suspendCompute(computeId, 'stop');
      stopped.push((await timedConnectAndSelect(target, 60_000)).total);
    }

    await service.suspendCompute(computeId, 'stop');
    const bare: number[] = [];
    const login = { ...target, user: created.user };
    for (let i = 0; i < wakes; i++) bare.push(await bareStart(dir, computeId, login));

    const rows = [
      ['frozen-tier resume via proxy (scheduler froze it)', frozen],
      ['stopped-tier resume via proxy', stopped],
      ['bare mariadbd start, same datadir, direct', bare],
      [`last client left -> frozen (idle timeout ${IDLE_MS} ms)`, idleDelay],
    ] as const;
    console.log(`| ${wakes} runs each | p50 ms | p99 ms | min ms |\n|---|---:|---:|---:|`);
    for (const [label, xs] of rows) console.log(`| ${label} | ${q(xs, 0.5)} | ${q(xs, 0.99)} | ${q(xs, 0)} |`);
    console.log(`\nstopped / bare (p50): ${(quantile(stopped, 0.5) / quantile(bare, 0.5)).toFixed(2)}x`);
  } finally {
    await proxy?.close();
    await reporter.close();
    await cp?.close({ stopComputes: true });
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Starts mariadbd on the (stopped) compute's datadir as the driver would, times spawn -> first result, stops it. */
async function bareStart(dataDir: string, computeId: string, login: Omit<WireTarget, 'port'>): Promise<number> {
  const p = computePaths(dataDir, computeId);
  const port = await findFreePort('127.0.0.1');
  const args = [
    '--no-defaults', ...(process.getuid?.() === 0 ? ['--user=root'] : []), `--datadir=${p.data}`, `--port=${port}`,
    '--bind-address=127.0.0.1', `--socket=${p.socket}`, `--pid-file=${p.pidFile}`, '--skip-log-bin',
    '--innodb-log-file-size=16M', '--skip-name-resolve', '--max-allowed-packet=64M',
  ];
  const began = performance.now();
  const child = spawn('/usr/sbin/mariadbd', args, { stdio: 'ignore' });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  try {
    for (;;) {
      if (performance.now() - began > 60_000) throw new Error('bare mariadbd did not serve within 60 s');
      if (child.exitCode !== null) throw new Error(`bare mariadbd exited with ${child.exitCode}`);
      try {
        await timedConnectAndSelect({ ...login, port }, 5_000);
        return performance.now() - began;
      } catch {
        await sleep(5);
      }
    }
  } finally {
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

function quantile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)] ?? s[0]!;
}

const q = (xs: readonly number[], p: number) => quantile(xs, p).toFixed(1);

main().catch((err: unknown) => {
  console.error(`scale-to-zero bench: ${(err as Error).message}`);
  process.exit(1);
});
