// Everything the bench starts is registered here, so a run that fails, times
// out or is interrupted still leaves no process and no temporary directory
// behind. Closers run newest first (a proxy before the database it fronts).
// If the runner dies before they can run, an 'exit' hook kills whatever
// process groups remain, synchronously, since nothing async runs at exit.
import { rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';

type Closer = { label: string; close: () => Promise<void> };

const closers: Closer[] = [];
const groups = new Set<number>();
const dirs = new Set<string>();
let hooked = false;

/** Process groups (detached children) that must die with the runner. */
export function trackGroup(pid: number): void {
  installHooks();
  groups.add(pid);
}

export function untrackGroup(pid: number): void {
  groups.delete(pid);
}

export function trackDir(dir: string): void {
  installHooks();
  dirs.add(dir);
}

/** Registers a graceful stop; returns a function that runs it now (once) and unregisters it. */
export function onCleanup(label: string, close: () => Promise<void>): () => Promise<void> {
  installHooks();
  const entry: Closer = { label, close };
  closers.push(entry);
  return async () => {
    const i = closers.indexOf(entry);
    if (i < 0) return;
    closers.splice(i, 1);
    await close();
  };
}

/** Runs every registered closer (newest first), then removes the temporary directories. */
export async function cleanupAll(): Promise<void> {
  while (closers.length > 0) {
    const c = closers.pop()!;
    try {
      await withTimeout(c.close(), 15_000, c.label);
    } catch (err) {
      process.stderr.write(`bench: cleanup of ${c.label} failed: ${(err as Error).message}\n`);
    }
  }
  killGroups();
  for (const d of dirs) await rm(d, { recursive: true, force: true }).catch(() => {});
  dirs.clear();
}

function killGroups(): void {
  for (const pid of groups) {
    try {
      // SIGCONT first: a frozen (SIGSTOPped) compute ignores everything else.
      process.kill(-pid, 'SIGCONT');
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  groups.clear();
}

function installHooks(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    killGroups();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) process.exit(130);
    interrupted = true;
    process.stderr.write(`\nbench: ${signal}, stopping everything it started...\n`);
    cleanupAll().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

function withTimeout<T>(p: Promise<T>, ms: number, label: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${label} did not stop within ${ms} ms`)), ms);
    }),
  ]);
}
