// Compute groups on cgroup v2: `<own>/wake-proxy-<scope>/<compute>` with
// cpu.max, cpu.weight, memory.max and, where the cpuset controller is
// available, cpuset.cpus. v2 forbids processes in a group that hands
// controllers to children (but the root), so this works where the control
// plane's own group may do that: the root (a container's, say), or a group
// delegated to it with no other processes.
import { mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CgroupLimits, Cgroups } from './cgroups.js';
import { checkId, dirIn, inGroups, readTrimmed, relativeTo, removeGroup, siblings, type Mount } from './cgroup-files.js';
import { CFS_PERIOD_US, quota, weight } from './cgroup-limits.js';
import { chooseCpus, formatCpuList, parseCpuList } from './cpu-placement.js';

export async function tryV2(mounts: Mount[], own: Map<string, string>, name: string, reasons: string[]): Promise<Cgroups | undefined> {
  const m = mounts.find((x) => x.type === 'cgroup2');
  const path = own.get('');
  if (!m || path === undefined) return void reasons.push('no cgroup v2 mount');
  const ownDir = dirIn(m, path);
  const available = (await readTrimmed(join(ownDir, 'cgroup.controllers'))).split(/\s+/);
  if (!available.includes('cpu') || !available.includes('memory')) return void reasons.push(`cgroup v2: cpu and memory controllers are not available in ${ownDir}`);
  const base = join(ownDir, name);
  try {
    await enable(ownDir, ['cpu', 'memory']);
    await mkdir(base, { recursive: true });
    await enable(base, ['cpu', 'memory']);
  } catch (err) {
    return void reasons.push(`cgroup v2: cannot hand cpu and memory to child groups of ${ownDir} (${(err as Error).message}); delegate a group to the control plane`);
  }
  // Placement is a bonus: without cpuset the quotas still hold.
  const placement =
    available.includes('cpuset') &&
    (await enable(ownDir, ['cpuset'])
      .then(() => enable(base, ['cpuset']))
      .then(() => true, () => false));
  const dir = (id: string) => join(base, checkId(id));

  async function limit(id: string, l: CgroupLimits): Promise<void> {
    await writeFile(join(dir(id), 'memory.max'), String(Math.floor(l.memoryBytes)));
    await writeFile(join(dir(id), 'cpu.max'), l.throttle ? `${quota(l.millicores)} ${CFS_PERIOD_US}` : `max ${CFS_PERIOD_US}`);
    await writeFile(join(dir(id), 'cpu.weight'), String(weight(l.millicores, 100, 1, 10_000)));
    if (!placement) return;
    const cpus = parseCpuList(await readTrimmed(join(base, 'cpuset.cpus.effective')));
    const current = parseCpuList(await readTrimmed(join(dir(id), 'cpuset.cpus')));
    const others = await siblings(base, id, async (n) => Number(await readTrimmed(join(base, n, 'cpu.weight'))) * 10);
    await writeFile(join(dir(id), 'cpuset.cpus'), formatCpuList(chooseCpus(cpus, current, others, l.millicores)));
  }

  return {
    version: 'v2',
    bases: [base],
    placement,
    async prepare(id, l) {
      await mkdir(dir(id), { recursive: true });
      await limit(id, l);
      return [join(dir(id), 'cgroup.procs')];
    },
    async enter(id, pid) {
      await mkdir(dir(id), { recursive: true });
      await writeFile(join(dir(id), 'cgroup.procs'), String(pid));
    },
    contains: (id, pid) => inGroups(pid, [['', relativeTo(m, dir(id))]]),
    limit,
    remove: (id) => removeGroup(dir(id)),
    close: () => rmdir(base).catch(() => undefined),
  };
}

async function enable(dir: string, controllers: string[]): Promise<void> {
  const enabled = (await readFile(join(dir, 'cgroup.subtree_control'), 'utf8')).split(/\s+/);
  const missing = controllers.filter((c) => !enabled.includes(c));
  if (missing.length) await writeFile(join(dir, 'cgroup.subtree_control'), missing.map((c) => `+${c}`).join(' '));
}
