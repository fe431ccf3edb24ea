// The `process` compute driver: each compute is a local mariadbd on a free
// loopback port, frozen with SIGSTOP and stopped with SIGTERM. What runs is
// recorded in run.json beside the datadir, so a restarted control plane, or
// another one on the same host and data directory, finds (adopts) the computes
// left running. Computes live on this host: control planes elsewhere cannot
// operate them (placement). The processes it runs, their exits and their
// stops are tracked-processes.ts's; what runs is read from the kernel
// (process-table.ts) and run.json (run-file.ts).
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import type { Logger } from 'pino';
import { MIN_CU_MILLI, resourcesOf, sizeArgs, type SizeResources } from '../compute-size.js';
import type { ComputeDriver, ComputeEndpoint, ObservedCompute, ObservedState, SuspendTier } from './driver.js';
import { computePaths, ensureTemplate, exists, listComputes, provisionComputeFiles, rotateLog } from './compute-files.js';
import { serverArgs } from './mariadbd-args.js';
import { findFreePort } from './free-port.js';
import { launchMariadbd, LaunchError } from './mariadbd-launch.js';
import { processUsage, ProcessLimits } from './process-limits.js';
import { cmdlineIncludes, isProcessAlive, pollUntil, processState, signalGroup } from './process-table.js';
import { readRunFile, removeRunFileOf, writeRunFile, type RunInfo } from './run-file.js';
import { killStrayServer, recordStrayServer } from './stray-server.js';
import { TrackedProcesses } from './tracked-processes.js';

export interface ProcessDriverOptions {
  dataDir: string;
  mariadbdPath?: string;
  installDbPath?: string;
  logger?: Logger;
  /** Bound on one mariadbd start, spawn to "ready for connections". */
  startTimeoutMs?: number;
  /** How long SIGTERM may take before SIGKILL. */
  stopTimeoutMs?: number;
  /** Extra mariadbd options for every compute, e.g. ['--innodb-buffer-pool-size=64M']; later options win. */
  extraArgs?: string[];
  /** CPU and memory limits by cgroups: 'auto' (the default) uses them when the host allows, 'off' never. */
  cgroups?: 'auto' | 'off';
}

const HOST = '127.0.0.1';
const PORT_ATTEMPTS = 3;

function defaultPath(debianPath: string, name: string): string {
  return existsSync(debianPath) ? debianPath : name;
}

export function createProcessDriver(opts: ProcessDriverOptions): ComputeDriver {
  const dataDir = resolve(opts.dataDir);
  const mariadbdPath = opts.mariadbdPath ?? defaultPath('/usr/sbin/mariadbd', 'mariadbd');
  const installDbPath = opts.installDbPath ?? defaultPath('/usr/bin/mariadb-install-db', 'mariadb-install-db');
  const startTimeoutMs = opts.startTimeoutMs ?? 60_000;
  const stopTimeoutMs = opts.stopTimeoutMs ?? 10_000;
  const log = opts.logger;
  const starting = new Map<string, Promise<ComputeEndpoint>>();
  let template: Promise<string> | undefined;
  const limits = new ProcessLimits(dataDir, opts.cgroups ?? 'auto', log);
  const procs = new TrackedProcesses({ dataDir, limits, stopTimeoutMs, log });

  async function inspect(id: string): Promise<{ state: ObservedState; run?: RunInfo }> {
    const p = computePaths(dataDir, id);
    const run = await readRunFile(p.runFile);
    // The cmdline check guards against a pid recycled by an unrelated process.
    if (!run || !(await isProcessAlive(run.pid)) || !(await cmdlineIncludes(run.pid, `--datadir=${p.data}`))) {
      if (run) await removeRunFileOf(p.runFile, run.pid);
      return { state: 'stopped' };
    }
    return { state: (await processState(run.pid)) === 'T' ? 'frozen' : 'running', run };
  }

  async function start(id: string, signal: AbortSignal, size: SizeResources): Promise<ComputeEndpoint> {
    const p = computePaths(dataDir, id);
    if (!(await exists(p.provisioned))) throw new Error(`compute ${id} is not provisioned: ${p.provisioned} is missing`);
    await killStrayServer(p);
    await rotateLog(p.log);
    const withInit = await exists(p.initFile);
    const cgroupProcs = await limits.beforeStart(id, size);
    for (let attempt = 1; ; attempt++) {
      const port = await findFreePort(HOST);
      const began = performance.now();
      let child: ChildProcess;
      try {
        child = await launchMariadbd({
          computeId: id,
          mariadbdPath,
          args: serverArgs(p, HOST, port, withInit, [...sizeArgs(size), ...(opts.extraArgs ?? [])]),
          logPath: p.log,
          timeoutMs: startTimeoutMs,
          signal,
          cgroupProcs,
        });
      } catch (err) {
        if (err instanceof LaunchError && err.addressInUse && attempt < PORT_ATTEMPTS && !signal.aborted) {
          log?.info({ computeId: id, port }, 'port taken before mariadbd bound it; trying another');
          continue;
        }
        await limits.released(id);
        throw err;
      }
      procs.track(id, child.pid!, child);
      // Serving now: its CPU ceiling applies from here (the start ran without one).
      await limits.apply(id, child.pid!, size);
      const run: RunInfo = { pid: child.pid!, port, datadir: p.data, startedAt: new Date().toISOString() };
      await writeRunFile(p.runFile, run);
      // The owner exists now; the init file must not recreate it if it is dropped later.
      if (withInit) await rm(p.initFile, { force: true });
      log?.info({ computeId: id, computePid: run.pid, port, ms: Math.round(performance.now() - began) }, 'compute started');
      return { host: HOST, port };
    }
  }

  async function resumeOnce(id: string, signal: AbortSignal, size: SizeResources): Promise<ComputeEndpoint> {
    const seen = await inspect(id);
    if (!seen.run) {
      // No recorded server, but one may hold the data directory: a start whose control plane died (or was
      // counted dead) before recording it. It is used once it serves; a second mariadbd is never put beside it.
      const stray = await adoptStray(id, signal);
      if (stray) return stray;
      signal.throwIfAborted();
      return start(id, signal, size);
    }
    procs.track(id, seen.run.pid);
    if (seen.state === 'frozen') {
      signalGroup(seen.run.pid, 'SIGCONT');
      await pollUntil(async () => (await processState(seen.run!.pid)) !== 'T', 1_000);
      log?.info({ computeId: id, computePid: seen.run.pid }, 'compute thawed');
    }
    return { host: HOST, port: seen.run.port };
  }

  async function suspend(id: string, tier: SuspendTier): Promise<void> {
    const seen = await inspect(id);
    if (!seen.run) return;
    if (tier === 'stop') return procs.stop(id, seen.run.pid);
    if (seen.state === 'frozen') return;
    procs.track(id, seen.run.pid);
    signalGroup(seen.run.pid, 'SIGSTOP');
    // Answer only once the kernel has really stopped it.
    const pid = seen.run.pid;
    if (!(await pollUntil(async () => (await processState(pid)) === 'T', 2_000))) {
      throw new Error(`compute ${id}: mariadbd (pid ${pid}) did not stop on SIGSTOP`);
    }
    log?.info({ computeId: id, computePid: pid }, 'compute frozen');
  }

  /** run.json, or else a server whose start a dead control plane left half done (waited for and recorded). */
  async function adopt(id: string, signal: AbortSignal): Promise<ObservedCompute> {
    const seen = await inspect(id);
    if (seen.run) {
      if (!procs.closed) procs.track(id, seen.run.pid);
      return { state: seen.state, endpoint: { host: HOST, port: seen.run.port } };
    }
    const stray = await adoptStray(id, signal);
    return stray ? { state: 'running', endpoint: stray } : { state: 'stopped' };
  }

  /** A server found on the compute's data directory that no run.json records, once it serves: watched from now on. */
  async function adoptStray(id: string, signal: AbortSignal): Promise<ComputeEndpoint | undefined> {
    const stray = await recordStrayServer(computePaths(dataDir, id), HOST, signal, log?.child({ computeId: id }));
    if (!stray) return undefined;
    if (!procs.closed) procs.track(id, stray.pid);
    return { host: HOST, port: stray.port };
  }

  return {
    kind: 'process',
    placement: `process:${hostname()}:${dataDir}`,
    supportsFreeze: true,
    adopt,

    async provision(req, signal) {
      signal?.throwIfAborted();
      template ??= ensureTemplate(dataDir, installDbPath).catch((err) => {
        template = undefined;
        throw err;
      });
      const p = computePaths(dataDir, req.computeId);
      // The control plane reaches its computes on loopback only.
      const control = req.control && { ...req.control, host: HOST };
      await provisionComputeFiles(p, await template, req.ownerUser, req.ownerVerifier, control);
    },

    resume(id, signal, size = resourcesOf(MIN_CU_MILLI)) {
      const inFlight = starting.get(id);
      if (inFlight) return inFlight;
      const p = resumeOnce(id, signal, size).finally(() => starting.delete(id));
      starting.set(id, p);
      return p;
    },

    suspend,

    async applyLimits(id, size) {
      const seen = await inspect(id);
      if (!seen.run) throw new Error(`compute ${id} is not running`);
      return limits.apply(id, seen.run.pid, size);
    },

    async usage(id) {
      const seen = await inspect(id);
      return seen.run ? processUsage(seen.run.pid) : {};
    },

    async destroy(id) {
      await suspend(id, 'stop');
      const p = computePaths(dataDir, id);
      await rm(p.dir, { recursive: true, force: true });
      if (dirname(p.socket) !== p.dir) await rm(p.socket, { force: true });
    },

    async observe(id): Promise<ObservedCompute> {
      const seen = await inspect(id);
      if (!seen.run) return { state: 'stopped' };
      if (!procs.closed) procs.track(id, seen.run.pid);
      return { state: seen.state, endpoint: { host: HOST, port: seen.run.port } };
    },

    onUnexpectedExit(listener) {
      procs.onUnexpectedExit(listener);
    },

    async close(closeOpts) {
      procs.close();
      if (closeOpts?.stopComputes) {
        const results = await Promise.allSettled((await listComputes(dataDir)).map((id) => suspend(id, 'stop')));
        const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
        for (const f of failed) log?.error({ err: f.reason }, 'could not stop a compute while closing');
      } else {
        procs.unrefAll();
      }
      procs.clear();
      await limits.close();
    },
  };
}
