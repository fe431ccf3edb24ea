// CPU and memory limits for process-driver computes, with the kernel's cgroups:
// v2 (cgroup-v2.ts: cpu.max, cpu.weight, memory.max, cpuset.cpus) where its
// controllers can be handed to child groups, else v1 (cgroup-v1.ts:
// cpu.cfs_quota_us, cpu.shares, memory.limit_in_bytes, cpuset.cpus) where
// those hierarchies are mounted and writable. Each compute gets a group of
// its own under the control plane's own group,
// `<own>/wake-proxy-<scope>/<computeId>`, where scope names the data
// directory, so control planes sharing one find each other's computes.
//
// A compute gets a CPU quota of its size, a weight by its size, a memory
// limit of its size, and (where the cpuset controller can be used) the CPUs
// it may run on (cpu-placement.ts).
//
// Nothing here is required: when neither version can be used (no root, a
// read-only /sys/fs/cgroup, v2 without delegation) openCgroups says why, the
// driver logs it once, and computes run unlimited.
import { readFile } from 'node:fs/promises';
import { parseMountinfo, parseProcCgroup, type Mount } from './cgroup-files.js';
import { tryV1 } from './cgroup-v1.js';
import { tryV2 } from './cgroup-v2.js';

export { parseMountinfo, parseProcCgroup } from './cgroup-files.js';

export interface CgroupLimits {
  /** The size's CPU share: the quota (once `throttle`), the weight and the CPUs it is placed on. */
  millicores: number;
  /** False while it starts: no CPU ceiling yet. */
  throttle: boolean;
  memoryBytes: number;
}

export interface Cgroups {
  readonly version: 'v1' | 'v2';
  /** Where computes' groups go, one directory per hierarchy (for logs). */
  readonly bases: readonly string[];
  /** Whether computes are also confined to CPUs (the cpuset controller could be used). */
  readonly placement: boolean;
  /** Creates the compute's groups with the limits; answers the cgroup.procs files a new process must be written to. */
  prepare(computeId: string, limits: CgroupLimits): Promise<string[]>;
  /** Moves a running process into the compute's groups (one adopted from before they existed). */
  enter(computeId: string, pid: number): Promise<void>;
  /** Whether pid is in the compute's groups already. */
  contains(computeId: string, pid: number): Promise<boolean>;
  limit(computeId: string, limits: CgroupLimits): Promise<void>;
  /** Removes the compute's groups once its process is gone (best effort: a busy group stays). */
  remove(computeId: string): Promise<void>;
  /** Removes the bases if no compute group is left in them (best effort). */
  close(): Promise<void>;
}

/** The cgroups the driver can use, or why it cannot. */
export async function openCgroups(scope: string): Promise<Cgroups | { unavailable: string }> {
  if (!/^[a-z0-9-]{1,40}$/.test(scope)) throw new Error(`cgroup scope '${scope}' must be 1-40 lowercase letters, digits or '-'`);
  let mounts: Mount[];
  let own: Map<string, string>;
  try {
    mounts = parseMountinfo(await readFile('/proc/self/mountinfo', 'utf8'));
    own = parseProcCgroup(await readFile('/proc/self/cgroup', 'utf8'));
  } catch (err) {
    return { unavailable: `cannot read /proc/self/mountinfo or /proc/self/cgroup: ${(err as Error).message}` };
  }
  const reasons: string[] = [];
  const v2 = await tryV2(mounts, own, `wake-proxy-${scope}`, reasons);
  if (v2) return v2;
  const v1 = await tryV1(mounts, own, `wake-proxy-${scope}`, reasons);
  if (v1) return v1;
  return { unavailable: reasons.join('; ') };
}
