// `<compute>/run.json`: which mariadbd serves a compute and on which port.
// Written once the server is ready and removed when it stops, it is how a
// control plane that restarted finds (adopts) the computes it left running.
import { readFile, writeFile } from 'node:fs/promises';

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

export async function writeRunFile(path: string, run: RunInfo): Promise<void> {
  await writeFile(path, JSON.stringify(run) + '\n');
}
