// Reading the kernel's cgroup bookkeeping: which cgroup hierarchies are
// mounted where (/proc/self/mountinfo), which group a process is in
// (/proc/<pid>/cgroup), and the paths between them. Shared by cgroups v1 and
// v2 (cgroup-v1.ts, cgroup-v2.ts).
import { readdir, readFile, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parseCpuList } from './cpu-placement.js';

export interface Mount {
  type: 'cgroup' | 'cgroup2';
  point: string;
  /** The part of the hierarchy the mount shows ('/' but inside a cgroup namespace). */
  root: string;
  /** Super options: for v1, the controllers the hierarchy has. */
  options: string[];
}

const COMPUTE_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;

export function checkId(id: string): string {
  if (!COMPUTE_ID.test(id)) throw new Error(`compute id '${id}' cannot name a cgroup`);
  return id;
}

/** Where a hierarchy path (from /proc/<pid>/cgroup) is on disk, through the mount that shows it. */
export function dirIn(m: Mount, path: string): string {
  const rel = m.root !== '/' && path.startsWith(m.root) ? path.slice(m.root.length) : path;
  return join(m.point, rel);
}

/** The inverse of dirIn: the hierarchy path of a directory under the mount. */
export function relativeTo(m: Mount, dir: string): string {
  const rel = dir.slice(m.point.length) || '/';
  return m.root === '/' ? rel : join(m.root, rel);
}

/** The path of the v1 hierarchy that has `controller` ('' for v2). */
export function pathFor(groups: Map<string, string>, controller: string): string | undefined {
  if (controller === '') return groups.get('');
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

/** Whether pid is in every (controller, hierarchy path) given. */
export async function inGroups(pid: number, want: Array<[controller: string, path: string]>): Promise<boolean> {
  const groups = parseProcCgroup(await readFile(`/proc/${pid}/cgroup`, 'utf8').catch(() => ''));
  return want.every(([controller, path]) => pathFor(groups, controller) === path);
}

/**
 * Removes a group once it is empty. A process that just exited may still be
 * in it until its parent reaps it, so a busy group is tried again for a
 * while; one that stays busy (a process still runs in it) is left.
 */
export async function removeGroup(dir: string): Promise<void> {
  for (let i = 0; i < 20; i++) {
    try {
      await rmdir(dir);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EBUSY') return;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** A file's content trimmed, or '' when it cannot be read. */
export async function readTrimmed(path: string): Promise<string> {
  return (await readFile(path, 'utf8').catch(() => '')).trim();
}

/** The other compute groups under a base: their CPUs and CPU share, for placement. */
export async function siblings(
  cpusetBase: string,
  me: string,
  shareOf: (name: string) => Promise<number>,
): Promise<Array<{ cpus: number[]; millicores: number }>> {
  const entries = await readdir(cpusetBase, { withFileTypes: true }).catch(() => []);
  const out: Array<{ cpus: number[]; millicores: number }> = [];
  for (const e of entries) {
    if (!e.isDirectory() || e.name === me) continue;
    const cpus = await readTrimmed(join(cpusetBase, e.name, 'cpuset.cpus'));
    if (cpus) out.push({ cpus: parseCpuList(cpus), millicores: await shareOf(e.name) });
  }
  return out;
}
