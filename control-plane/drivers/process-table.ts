// What the kernel says about a process, read from /proc. The process driver
// must tell a live mariadbd from a dead pid, a recycled pid and a zombie, and a
// frozen (SIGSTOP) one from a running one, also for processes it did not start
// itself (adopted after a control-plane restart).
import type { ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';

/** The one-letter state from /proc/<pid>/stat ('R', 'S', 'T', 'Z', ...), or undefined if gone. */
export async function processState(pid: number): Promise<string | undefined> {
  let stat: string;
  try {
    stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name sits in parentheses and may itself hold spaces or ')'.
  const afterName = stat.slice(stat.lastIndexOf(')') + 2);
  return afterName.charAt(0) || undefined;
}

/** Whether pid names a process that exists and has not exited (zombies count as exited). */
export async function isProcessAlive(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: it exists but belongs to someone else; still alive.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const state = await processState(pid);
  return state !== undefined && state !== 'Z' && state !== 'X';
}

/** Whether the process's command line mentions `needle`: guards against a recycled pid. */
export async function cmdlineIncludes(pid: number, needle: string): Promise<boolean> {
  try {
    const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    return raw.split('\0').some((arg) => arg.includes(needle));
  } catch {
    return false;
  }
}

/**
 * Signals the whole process group led by pid (the driver starts mariadbd
 * detached, so it leads its own group). Returns false when the group is gone.
 */
export function signalGroup(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw new Error(`could not send ${signal} to process group ${pid}: ${(err as Error).message}`, { cause: err });
  }
}

const POLL_MS = 10;

/**
 * Waits until `done` holds, checking every few milliseconds, for at most
 * timeoutMs. Used for kernel state changes that have no event to wait on.
 */
export async function pollUntil(done: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await done()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** Waits for pid to exit; false if it still runs after timeoutMs. */
export function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  return pollUntil(async () => !(await isProcessAlive(pid)), timeoutMs);
}

/**
 * Waits (at most 1 s) until Node has reaped its own child: until then the
 * exited process is a zombie whose pid still answers kill(pid, 0).
 */
export function reaped(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, 1_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
