// What /proc says about a process: CPU time used, resident memory, and the
// open-files limit. On a shared, noisy machine throughput swings with the
// neighbours, but the CPU a proxy spends per query hardly does, so it is the
// steadier way to compare the proxy with HAProxy. Node cannot raise its fd
// limit (no setrlimit) and in containers without CAP_SYS_RESOURCE nobody can
// raise the hard limit, so scenarios that hold many sockets size themselves
// to it.
import { readdir, readFile } from 'node:fs/promises';

/** USER_HZ: the unit of utime/stime in /proc, 100 on every Linux this runs on. */
const CLOCK_TICKS_PER_SECOND = 100;

/** Descriptors a process keeps for itself (stdio, epoll, listener, log files, IPC) besides sockets. */
export const FD_HEADROOM = 100;

/** User + system CPU seconds of pid (all threads) so far, or NaN if it cannot be read. */
export async function cpuSeconds(pid: number): Promise<number> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesized command name; utime and stime are fields 14 and 15.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return NaN;
  }
}

/** CPU seconds of pid and every live descendant (a proxy's workers), the same way. */
export async function treeCpuSeconds(pid: number): Promise<number> {
  let total = await cpuSeconds(pid);
  for (const child of await childrenOf(pid)) total += await treeCpuSeconds(child);
  return total;
}

async function childrenOf(pid: number): Promise<number[]> {
  const tasks = await readdir(`/proc/${pid}/task`).catch(() => [] as string[]);
  const out: number[] = [];
  for (const tid of tasks) {
    const text = await readFile(`/proc/${pid}/task/${tid}/children`, 'utf8').catch(() => '');
    for (const c of text.split(' ')) if (c !== '' && c !== '\n') out.push(Number(c));
  }
  return out.filter((c) => Number.isInteger(c) && c > 0);
}

/** Runs fn and reports the CPU seconds pid (with tree: and its descendants) used meanwhile (NaN without a pid). */
export async function withCpu<T>(pid: number | undefined, fn: () => Promise<T>, tree = false): Promise<{ result: T; cpu: number }> {
  const read = tree ? treeCpuSeconds : cpuSeconds;
  const before = pid === undefined ? NaN : await read(pid);
  const result = await fn();
  const after = pid === undefined ? NaN : await read(pid);
  return { result, cpu: after - before };
}

/** Resident set size of pid in bytes (VmRSS). */
export async function rssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+) kB/m.exec(status);
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

/** Soft RLIMIT_NOFILE of this process, inherited by its children (Infinity when unlimited or unreadable). */
export async function fdLimit(): Promise<number> {
  try {
    const text = await readFile('/proc/self/limits', 'utf8');
    const m = /^Max open files\s+(\S+)/m.exec(text);
    if (!m || m[1] === 'unlimited') return Infinity;
    return Number(m[1]);
  } catch {
    return Infinity;
  }
}

/** The mariadbd listening on `port` (by its --port= argument), e.g. a compute the control plane started. */
export async function findMariadbdByPort(port: number): Promise<number | undefined> {
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    const args = (await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')).split('\0');
    if (args[0]?.endsWith('mariadbd') && args.includes(`--port=${port}`)) return Number(entry);
  }
  return undefined;
}
