// Compute groups on cgroup v1: one directory per hierarchy (cpu, memory and,
// where mounted and writable, cpuset), each `<own>/wake-proxy-<scope>/<compute>`
// under the control plane's own group in that hierarchy. A v1 cpuset group
// takes no process until its cpus and mems are set, so the base copies its
// parent's and each compute group gets its own CPUs and the base's memory nodes.
import { access, mkdir, rmdir, writeFile } from 'node:fs/promises';
import { constants } from 'node:fs';
import { dirname, join } from 'node:path';
import type { CgroupLimits, Cgroups } from './cgroups.js';
import { checkId, dirIn, inGroups, pathFor, readTrimmed, relativeTo, removeGroup, siblings, type Mount } from './cgroup-files.js';
import { CFS_PERIOD_US, quota, weight } from './cgroup-limits.js';
import { chooseCpus, formatCpuList, parseCpuList } from './cpu-placement.js';

export async function tryV1(mounts: Mount[], own: Map<string, string>, name: string, reasons: string[]): Promise<Cgroups | undefined> {
  const hierarchy = (controller: string) => {
    const m = mounts.find((x) => x.type === 'cgroup' && x.options.includes(controller));
    const path = pathFor(own, controller);
    return m && path !== undefined ? { m, base: join(dirIn(m, path), name) } : undefined;
  };
  const cpu = hierarchy('cpu');
  const memory = hierarchy('memory');
  if (!cpu || !memory) return void reasons.push('cgroup v1: no cpu or memory hierarchy this process is in');
  try {
    for (const h of [cpu, memory]) {
      await mkdir(h.base, { recursive: true });
      await access(join(h.base, 'cgroup.procs'), constants.W_OK);
    }
  } catch (err) {
    return void reasons.push(`cgroup v1: cannot create groups under ${cpu.base} and ${memory.base} (${(err as Error).message})`);
  }
  const cpuset = await cpusetBase(hierarchy('cpuset'));
  const used = cpuset ? [cpu, memory, cpuset] : [cpu, memory];
  const dirs = (id: string) => used.map((h) => join(h.base, checkId(id)));
  const dir = (h: { base: string }, id: string) => join(h.base, checkId(id));

  async function limit(id: string, l: CgroupLimits): Promise<void> {
    await writeFile(join(dir(memory!, id), 'memory.limit_in_bytes'), String(Math.floor(l.memoryBytes)));
    const c = dir(cpu!, id);
    await writeFile(join(c, 'cpu.cfs_period_us'), String(CFS_PERIOD_US));
    await writeFile(join(c, 'cpu.cfs_quota_us'), l.throttle ? String(quota(l.millicores)) : '-1');
    await writeFile(join(c, 'cpu.shares'), String(weight(l.millicores, 1024, 2, 262_144)));
    if (!cpuset) return;
    const s = dir(cpuset, id);
    const available = parseCpuList(await readTrimmed(join(cpuset.base, 'cpuset.cpus')));
    const current = parseCpuList(await readTrimmed(join(s, 'cpuset.cpus')));
    const others = await siblings(cpuset.base, id, async (n) => (Number(await readTrimmed(join(cpu!.base, n, 'cpu.shares'))) * 1000) / 1024);
    await writeFile(join(s, 'cpuset.mems'), await readTrimmed(join(cpuset.base, 'cpuset.mems')));
    await writeFile(join(s, 'cpuset.cpus'), formatCpuList(chooseCpus(available, current, others, l.millicores)));
  }

  return {
    version: 'v1',
    bases: used.map((h) => h.base),
    placement: cpuset !== undefined,
    async prepare(id, l) {
      for (const d of dirs(id)) await mkdir(d, { recursive: true });
      await limit(id, l);
      return dirs(id).map((d) => join(d, 'cgroup.procs'));
    },
    async enter(id, pid) {
      for (const d of dirs(id)) {
        await mkdir(d, { recursive: true });
        await writeFile(join(d, 'cgroup.procs'), String(pid));
      }
    },
    contains: (id, pid) =>
      inGroups(pid, [
        ['cpu', relativeTo(cpu.m, dir(cpu, id))],
        ['memory', relativeTo(memory.m, dir(memory, id))],
        ...(cpuset ? [['cpuset', relativeTo(cpuset.m, dir(cpuset, id))] as [string, string]] : []),
      ]),
    limit,
    async remove(id) {
      for (const d of dirs(id)) await removeGroup(d);
    },
    async close() {
      for (const h of used) await rmdir(h.base).catch(() => undefined);
    },
  };
}

/** The cpuset base, made usable (its parent's CPUs and memory nodes), or undefined when cpusets cannot be used. */
async function cpusetBase(h: { m: Mount; base: string } | undefined): Promise<{ m: Mount; base: string } | undefined> {
  if (!h) return undefined;
  try {
    await mkdir(h.base, { recursive: true });
    for (const file of ['cpuset.cpus', 'cpuset.mems']) {
      if (!(await readTrimmed(join(h.base, file)))) await writeFile(join(h.base, file), await readTrimmed(join(dirname(h.base), file)));
    }
    return (await readTrimmed(join(h.base, 'cpuset.cpus'))) ? h : undefined;
  } catch {
    return undefined;
  }
}
