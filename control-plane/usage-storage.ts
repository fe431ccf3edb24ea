// Storage bytes of a process-driver compute: what its directory takes on disk
// (allocated blocks, like `du`, so sparse and preallocated InnoDB files count
// as the disk sees them). Other drivers keep storage elsewhere (a PVC) and
// report nothing here.
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { computePaths } from './drivers/compute-files.js';

/** Bound on one walk: a huge or hung directory must not hold an API call forever. */
const WALK_TIMEOUT_MS = 10_000;

export async function processComputeStorageBytes(dataDir: string, computeId: string): Promise<number> {
  const deadline = Date.now() + WALK_TIMEOUT_MS;
  return diskUsage(computePaths(dataDir, computeId).dir, deadline);
}

async function diskUsage(path: string, deadline: number): Promise<number> {
  if (Date.now() > deadline) throw new Error(`measuring storage under ${path} took over ${WALK_TIMEOUT_MS} ms`);
  let st;
  try {
    st = await lstat(path);
  } catch (err) {
    // Files come and go while mariadbd runs (temporary tables, rotated logs).
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
  let bytes = st.blocks * 512;
  if (st.isDirectory()) {
    const entries = await readdir(path).catch(() => [] as string[]);
    for (const name of entries) bytes += await diskUsage(join(path, name), deadline);
  }
  return bytes;
}
