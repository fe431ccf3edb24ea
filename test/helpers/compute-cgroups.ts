// The kernel's view of a process-driver compute's limits, read from outside
// as a test must: which cgroups its mariadbd is in, and what they allow. And
// whether this machine lets the control plane use cgroups at all, so tests
// that need them skip with the reason rather than fail.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openCgroups, parseMountinfo, parseProcCgroup } from '../../control-plane/drivers/cgroups.js';
import { parseCpuList } from '../../control-plane/drivers/cpu-placement.js';

export interface SeenLimits {
  version: 'v1' | 'v2';
  /** CPUs per period, null when unthrottled. */
  cpus: number | null;
  memoryBytes: number;
  /** The CPUs it may run on, when placed (cpuset). */
  placedOn?: number[];
}

/** Why the control plane could not use cgroups here, or undefined when it can. */
export async function cgroupsUnavailable(): Promise<string | undefined> {
  const opened = await openCgroups('test-probe');
  if ('unavailable' in opened) return `cgroups unavailable on this machine: ${opened.unavailable}`;
  await opened.close();
  return undefined;
}

/** The limits of the compute groups a pid is in; undefined when it is in none of the driver's. */
export async function limitsOf(pid: number): Promise<SeenLimits | undefined> {
  const groups = parseProcCgroup(await readFile(`/proc/${pid}/cgroup`, 'utf8'));
  const mounts = parseMountinfo(await readFile('/proc/self/mountinfo', 'utf8'));
  const dirOf = (type: 'cgroup' | 'cgroup2', controller: string): string | undefined => {
    const m = mounts.find((x) => x.type === type && (type === 'cgroup2' || x.options.includes(controller)));
    const path = type === 'cgroup2' ? groups.get('') : [...groups.entries()].find(([k]) => k.split(',').includes(controller))?.[1];
    return m && path?.includes('/wake-proxy-') ? join(m.point, m.root !== '/' && path.startsWith(m.root) ? path.slice(m.root.length) : path) : undefined;
  };
  const placed = async (dir: string | undefined) => {
    const text = dir ? (await readFile(join(dir, 'cpuset.cpus'), 'utf8').catch(() => '')).trim() : '';
    return text ? { placedOn: parseCpuList(text) } : {};
  };
  const cpu1 = dirOf('cgroup', 'cpu');
  const mem1 = dirOf('cgroup', 'memory');
  if (cpu1 && mem1) {
    const quota = Number(await readFile(join(cpu1, 'cpu.cfs_quota_us'), 'utf8'));
    const period = Number(await readFile(join(cpu1, 'cpu.cfs_period_us'), 'utf8'));
    const memoryBytes = Number(await readFile(join(mem1, 'memory.limit_in_bytes'), 'utf8'));
    return { version: 'v1', cpus: quota < 0 ? null : quota / period, memoryBytes, ...(await placed(dirOf('cgroup', 'cpuset'))) };
  }
  const v2 = dirOf('cgroup2', '');
  if (v2) {
    const [quota, period] = (await readFile(join(v2, 'cpu.max'), 'utf8')).trim().split(' ');
    const memoryBytes = Number(await readFile(join(v2, 'memory.max'), 'utf8'));
    return { version: 'v2', cpus: quota === 'max' ? null : Number(quota) / Number(period), memoryBytes, ...(await placed(v2)) };
  }
  return undefined;
}
