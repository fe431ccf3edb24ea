// `<dataDir>/state.json`: projects and computes, so they survive a restart.
// Written whole to a temporary file, flushed and renamed over the old one, so a
// crash leaves either the old state or the new, never half of each. Writes are
// serialized; a burst of saves collapses into one write of the latest state.
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { StoredState } from './records.js';

export interface StateStore {
  readonly path: string;
  load(): Promise<StoredState>;
  /** Persists what `snapshot` returns at write time; resolves once it is on disk. */
  save(snapshot: () => StoredState): Promise<void>;
}

export function createStateStore(dataDir: string): StateStore {
  const path = join(dataDir, 'state.json');
  let lastWrite: Promise<void> = Promise.resolve();
  let queued: { snapshot: () => StoredState; done: Promise<void> } | undefined;

  return {
    path,

    async load() {
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, projects: [], computes: [] };
        throw new Error(`could not read control-plane state ${path}: ${(err as Error).message}`, { cause: err });
      }
      // A corrupt file is an error, never an empty start: that would forget every project.
      let parsed: Partial<StoredState>;
      try {
        parsed = JSON.parse(text) as Partial<StoredState>;
      } catch (err) {
        throw new Error(`control-plane state ${path} is not valid JSON: ${(err as Error).message}`, { cause: err });
      }
      if (parsed.version !== 1 || !Array.isArray(parsed.projects) || !Array.isArray(parsed.computes)) {
        throw new Error(`control-plane state ${path} has an unknown layout (version ${String(parsed.version)})`);
      }
      return { version: 1, projects: parsed.projects, computes: parsed.computes };
    },

    save(snapshot) {
      if (queued) {
        // Not started yet: it will take the newest snapshot when it runs.
        queued.snapshot = snapshot;
        return queued.done;
      }
      const entry = { snapshot } as { snapshot: () => StoredState; done: Promise<void> };
      entry.done = lastWrite.then(() => {
        queued = undefined;
        return writeAtomically(path, JSON.stringify(entry.snapshot(), null, 2) + '\n');
      });
      queued = entry;
      lastWrite = entry.done.catch(() => {});
      return entry.done;
    },
  };
}

async function writeAtomically(path: string, text: string): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    // 0600: the file holds password verifiers.
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw new Error(`could not write control-plane state ${path}: ${(err as Error).message}`, { cause: err });
  }
}
