// CPU time a process (all its threads) has used, from /proc/<pid>/stat. On a
// shared, noisy machine throughput swings with the neighbours, but the CPU a
// proxy spends per query hardly does: it is the steadier way to compare the
// proxy with HAProxy.
import { readFile } from 'node:fs/promises';

/** USER_HZ: the unit of utime/stime in /proc, 100 on every Linux this runs on. */
const CLOCK_TICKS_PER_SECOND = 100;

/** User + system CPU seconds of pid so far, or NaN if it cannot be read. */
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

/** Runs fn and reports the CPU seconds pid used meanwhile (NaN without a pid). */
export async function withCpu<T>(pid: number | undefined, fn: () => Promise<T>): Promise<{ result: T; cpu: number }> {
  const before = pid === undefined ? NaN : await cpuSeconds(pid);
  const result = await fn();
  const after = pid === undefined ? NaN : await cpuSeconds(pid);
  return { result, cpu: after - before };
}
