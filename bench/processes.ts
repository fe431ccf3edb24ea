// Child processes for the bench: each in its own process group (so a helper's
// own children die with it), registered for cleanup, and every wait bounded.
import { spawn, fork, type ChildProcess, type SpawnOptions, type ForkOptions } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { connect } from 'node:net';
import { signalGroup, waitForExit } from '../control-plane/drivers/process-table.js';
import { onCleanup, trackGroup, untrackGroup } from './cleanup.js';
import { findFreePort } from '../control-plane/drivers/free-port.js';

/** Spawns a program as the leader of a new process group and tracks the group. */
export function spawnGroup(cmd: string, args: string[], opts: SpawnOptions = {}): ChildProcess {
  const child = spawn(cmd, args, { ...opts, detached: true });
  if (child.pid !== undefined) trackGroup(child.pid);
  child.once('exit', () => child.pid !== undefined && untrackGroup(child.pid));
  return child;
}

/** Forks a bench script (with an IPC channel) as a process-group leader. */
export function forkGroup(script: string, args: string[], opts: ForkOptions = {}): ChildProcess {
  const child = fork(script, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], ...opts, detached: true });
  if (child.pid !== undefined) trackGroup(child.pid);
  child.once('exit', () => child.pid !== undefined && untrackGroup(child.pid));
  return child;
}

/** SIGTERM to the group, SIGKILL if it is still there after graceMs. */
export async function stopGroup(child: ChildProcess, graceMs = 5_000): Promise<void> {
  const pid = child.pid;
  if (pid === undefined) return;
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    signalGroup(pid, 'SIGCONT');
    signalGroup(pid, 'SIGTERM');
    const done = await Promise.race([exited.then(() => true), sleep(graceMs).then(() => false)]);
    if (!done) {
      signalGroup(pid, 'SIGKILL');
      await Promise.race([exited, sleep(2_000)]);
    }
  }
  // Helpers the leader started may outlive it; the group signal reaches them.
  if (signalGroup(pid, 'SIGKILL')) await waitForExit(pid, 1_000);
  untrackGroup(pid);
}

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion, killing its group if it outlives timeoutMs. */
export function runCommand(cmd: string, args: string[], timeoutMs: number, opts: { cwd?: string } = {}): Promise<CommandResult> {
  return new Promise<CommandResult>((resolve, reject) => {
    const child = spawnGroup(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(opts.cwd ? { cwd: opts.cwd } : {}) });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      if (child.pid !== undefined) signalGroup(child.pid, 'SIGKILL');
      reject(new Error(`${cmd} did not finish within ${timeoutMs} ms`));
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`could not run ${cmd}: ${err.message}`));
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Resolves once something accepts TCP connections on host:port; polls every 20 ms. */
export async function waitForPort(host: string, port: number, timeoutMs: number, child?: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) throw new Error(`process exited (${child.exitCode}) before listening on ${port}`);
    if (await canConnect(host, port)) return;
    await sleep(20);
  }
  throw new Error(`nothing listens on ${host}:${port} after ${timeoutMs} ms`);
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Which of the given paths (or PATH entries) holds an executable `name`. */
export async function findExecutable(name: string, candidates: string[] = []): Promise<string | undefined> {
  const dirs = (process.env.PATH ?? '').split(':').filter(Boolean);
  for (const path of [...candidates, ...dirs.map((d) => `${d}/${name}`)]) {
    try {
      await access(path, constants.X_OK);
      return path;
    } catch {
      // next
    }
  }
  return undefined;
}

/** A bench server forked from `script` with its port first in argv, stopped with the bench. */
export interface ForkedServer {
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/** Forks `script <port> ...args` in a process group of its own and waits until it listens. */
export async function startForkedServer(script: string, label: string, args: string[]): Promise<ForkedServer> {
  const port = await findFreePort();
  const child = forkGroup(script, [String(port), ...args], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const stop = onCleanup(`${label} (pid ${child.pid})`, () => stopGroup(child, 2_000));
  try {
    await waitForPort('127.0.0.1', port, 10_000, child);
  } catch (err) {
    await stop();
    throw new Error(`${label} did not start: ${(err as Error).message}`);
  }
  return { port, pid: child.pid!, stop };
}
