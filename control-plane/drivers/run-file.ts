// `<compute>/run.json`: which mariadbd serves a compute and on which port.
// Written once the server is ready and removed when it stops, it is how a
// control plane that restarted finds (adopts) the computes it left running.
import { readFile, rename, rm, writeFile } from 'node:fs/promises';

export interface RunInfo {
  pid: number;
  port: number;
  datadir: string;
  startedAt: string;
}

/** The recorded run, or undefined when there is none or it is unreadable (then nothing is adopted). */
export async function readRunFile(path: string): Promise<RunInfo | undefined> {
  try {
    const run = JSON.parse(await readFile(path, 'utf8')) as Partial<RunInfo>;
    return Number.isInteger(run.pid) && Number.isInteger(run.port) ? (run as RunInfo) : undefined;
  } catch {
    return undefined;
  }
}

/** Written to a temporary name and renamed, so a reader never sees half of it. */
export async function writeRunFile(path: string, run: RunInfo): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(run) + '\n');
  await rename(tmp, path);
}

/**
 * Removes the run file only if it still names `pid`: another control plane may
 * have started the compute again and written its own since.
 */
export async function removeRunFileOf(path: string, pid: number): Promise<void> {
  const run = await readRunFile(path);
  if (run && run.pid !== pid) return;
  await rm(path, { force: true });
}
