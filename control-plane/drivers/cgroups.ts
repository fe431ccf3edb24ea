// CPU and memory limits for process-driver computes, with the kernel's cgroups:
// v2 (cpu.max, cpu.weight, memory.max) where its cpu and memory controllers
// can be handed to child groups, else v1 (cpu.cfs_quota_us, cpu.shares,
// memory.limit_in_bytes) where those hierarchies are mounted and writable.
// Each compute gets a group of its own under the control plane's own group,
// `<own>/wake-proxy-<scope>/<computeId>`, where scope names the data
// directory, so control planes sharing one find each other's computes.
//
// Nothing here is required: when neither version can be used (no root, a
// read-only /sys/fs/cgroup, v2 without delegation) openCgroups says why, the
// driver logs it once, and computes run unlimited.
import { access, mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { constants } from 'node:fs';
import { join } from 'node:path';

export interface CgroupLimits {
  /** null: no CPU ceiling (a start runs unthrottled). */
  cpuMillicores: number | null;
  memoryBytes: number;
}

export interface Cgroups {
  readonly version: 'v1' | 'v2';
  /** Where computes' groups go, one directory per hierarchy (for logs). */
  readonly bases: readonly string[];
  /** Creates the compute's groups; answers the cgroup.procs files a new process must be written to. */
  prepare(computeId: string): Promise<string[]>;
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

const COMPUTE_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;
/**
 * The CFS period: a compute gets its share of CPU time within each period. At
 * the kernel's 100 ms, a 0.5 CU compute with four busy threads on two cores
 * spends its 50 ms in the first 25 ms of each period, taking both cores from
 * its neighbours for that long; at 10 ms the same burst lasts 2.5 ms.
 */
const CFS_PERIOD_US = 10_000;

interface Mount {
  type: 'cgroup' | 'cgroup2';
  point: string;
  root: string;
  options: string[];
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
  const v2 = await tryV2(mounts, own, scope, reasons);
  if (v2) return v2;
  const v1 = await tryV1(mounts, own, scope, reasons);
  if (v1) return v1;
  return { unavailable: reasons.join('; ') };
}

async function tryV2(mounts: Mount[], own: Map<string, string>, scope: string, reasons: string[]): Promise<Cgroups | undefined> {
  const m = mounts.find((x) => x.type === 'cgroup2');
  const path = own.get('');
  if (!m || path === undefined) return void reasons.push('no cgroup v2 mount');
  const ownDir = dirIn(m, path);
  const available = (await readFile(join(ownDir, 'cgroup.controllers'), 'utf8').catch(() => '')).split(/\s+/);
  if (!available.includes('cpu') || !available.includes('memory')) return void reasons.push(`cgroup v2: cpu and memory controllers are not available in ${ownDir}`);
  const base = join(ownDir, `wake-proxy-${scope}`);
  try {
    await enableControllers(ownDir);
    await mkdir(base, { recursive: true });
    await enableControllers(base);
  } catch (err) {
    return void reasons.push(`cgroup v2: cannot hand cpu and memory to child groups of ${ownDir} (${(err as Error).message}); delegate a group to the control plane`);
  }
  const dir = (id: string) => join(base, checkId(id));
  return {
    version: 'v2',
    bases: [base],
    async prepare(id) {
      await mkdir(dir(id), { recursive: true });
      return [join(dir(id), 'cgroup.procs')];
    },
    async enter(id, pid) {
      await mkdir(dir(id), { recursive: true });
      await writeFile(join(dir(id), 'cgroup.procs'), String(pid));
    },
    contains: (id, pid) => inGroup(pid, new Map([['', relativeTo(m, dir(id))]])),
    async limit(id, l) {
      // Memory first on the way up and last on the way down is the caller's order; here both are one step.
      await writeFile(join(dir(id), 'memory.max'), String(Math.floor(l.memoryBytes)));
      await writeFile(join(dir(id), 'cpu.max'), l.cpuMillicores === null ? `max ${CFS_PERIOD_US}` : `${quota(l.cpuMillicores)} ${CFS_PERIOD_US}`);
      await writeFile(join(dir(id), 'cpu.weight'), String(weight(l, 100, 1, 10_000)));
    },
    remove: (id) => rmdir(dir(id)).catch(() => undefined),
    close: () => rmdir(base).catch(() => undefined),
  };
}

async function tryV1(mounts: Mount[], own: Map<string, string>, scope: string, reasons: string[]): Promise<Cgroups | undefined> {
  const cpu = mounts.find((x) => x.type === 'cgroup' && x.options.includes('cpu'));
  const memory = mounts.find((x) => x.type === 'cgroup' && x.options.includes('memory'));
  if (!cpu || !memory) return void reasons.push('cgroup v1: no cpu or memory hierarchy mounted');
  const ownCpu = ownPathFor(own, 'cpu');
  const ownMemory = ownPathFor(own, 'memory');
  if (ownCpu === undefined || ownMemory === undefined) return void reasons.push('cgroup v1: this process is in no cpu or memory group');
  const bases = [join(dirIn(cpu, ownCpu), `wake-proxy-${scope}`), join(dirIn(memory, ownMemory), `wake-proxy-${scope}`)];
  try {
    for (const b of bases) {
      await mkdir(b, { recursive: true });
      await access(join(b, 'cgroup.procs'), constants.W_OK);
    }
  } catch (err) {
    return void reasons.push(`cgroup v1: cannot create groups under ${bases.join(' and ')} (${(err as Error).message})`);
  }
  const [cpuBase, memoryBase] = bases as [string, string];
  const dirs = (id: string) => [join(cpuBase, checkId(id)), join(memoryBase, checkId(id))] as const;
  return {
    version: 'v1',
    bases,
    async prepare(id) {
      for (const d of dirs(id)) await mkdir(d, { recursive: true });
      return dirs(id).map((d) => join(d, 'cgroup.procs'));
    },
    async enter(id, pid) {
      for (const d of dirs(id)) {
        await mkdir(d, { recursive: true });
        await writeFile(join(d, 'cgroup.procs'), String(pid));
      }
    },
    contains: (id, pid) => {
      const [c, mem] = dirs(id);
      return inGroup(pid, new Map([['cpu', relativeTo(cpu, c)], ['memory', relativeTo(memory, mem)]]));
    },
    async limit(id, l) {
      const [c, mem] = dirs(id);
      await writeFile(join(mem, 'memory.limit_in_bytes'), String(Math.floor(l.memoryBytes)));
      await writeFile(join(c, 'cpu.cfs_period_us'), String(CFS_PERIOD_US));
      await writeFile(join(c, 'cpu.cfs_quota_us'), l.cpuMillicores === null ? '-1' : String(quota(l.cpuMillicores)));
      await writeFile(join(c, 'cpu.shares'), String(weight(l, 1024, 2, 262_144)));
    },
    async remove(id) {
      for (const d of dirs(id)) await rmdir(d).catch(() => undefined);
    },
    async close() {
      for (const b of bases) await rmdir(b).catch(() => undefined);
    },
  };
}

/** CPU time per period for a share of CPUs: 250 millicores is a quarter of each period. */
function quota(millicores: number): number {
  return Math.max(1_000, Math.round((millicores / 1000) * CFS_PERIOD_US));
}

/** A weight proportional to the size (memory says the size even while CPU is unthrottled). */
function weight(l: CgroupLimits, perCu: number, min: number, max: number): number {
  const cu = l.memoryBytes / (4 * 1024 ** 3);
  return Math.min(max, Math.max(min, Math.round(perCu * cu)));
}

async function enableControllers(dir: string): Promise<void> {
  const enabled = (await readFile(join(dir, 'cgroup.subtree_control'), 'utf8')).split(/\s+/);
  if (enabled.includes('cpu') && enabled.includes('memory')) return;
  await writeFile(join(dir, 'cgroup.subtree_control'), '+cpu +memory');
}

async function inGroup(pid: number, want: Map<string, string>): Promise<boolean> {
  const groups = parseProcCgroup(await readFile(`/proc/${pid}/cgroup`, 'utf8').catch(() => ''));
  for (const [controller, path] of want) {
    if ((controller === '' ? groups.get('') : ownPathFor(groups, controller)) !== path) return false;
  }
  return true;
}

function checkId(id: string): string {
  if (!COMPUTE_ID.test(id)) throw new Error(`compute id '${id}' cannot name a cgroup`);
  return id;
}

/** Where a hierarchy path (from /proc/<pid>/cgroup) is on disk, through the mount that shows it. */
function dirIn(m: Mount, path: string): string {
  const rel = m.root !== '/' && path.startsWith(m.root) ? path.slice(m.root.length) : path;
  return join(m.point, rel);
}

/** The inverse of dirIn: the hierarchy path of a directory under the mount. */
function relativeTo(m: Mount, dir: string): string {
  const rel = dir.slice(m.point.length) || '/';
  return m.root === '/' ? rel : join(m.root, rel);
}

function ownPathFor(groups: Map<string, string>, controller: string): string | undefined {
  for (const [controllers, path] of groups) if (controllers.split(',').includes(controller)) return path;
  return undefined;
}

/** `hierarchy-id:controllers:path` lines: controllers ('' for v2) to path. */
export function parseProcCgroup(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line);
    if (m) out.set(m[1]!, m[2]!);
  }
  return out;
}

/** The cgroup mounts of /proc/self/mountinfo. */
export function parseMountinfo(text: string): Mount[] {
  const out: Mount[] = [];
  for (const line of text.split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const f = left.split(' ');
    const [type, , superOptions] = right.split(' ');
    if (type !== 'cgroup' && type !== 'cgroup2') continue;
    out.push({ type, root: unescape(f[3] ?? '/'), point: unescape(f[4] ?? ''), options: (superOptions ?? '').split(',') });
  }
  return out;
}

/** mountinfo escapes spaces and a few others as octal (\040). */
function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}
