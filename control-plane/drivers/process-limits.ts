// What a size means for a process-driver compute: the server options it
// starts with (buffer pool, max_connections), its cgroup limits (cgroups.ts)
// when the host lets the control plane set them, and the CPU and memory it
// uses, read from /proc.
//
// A compute starts inside its group with its memory limit and its CPUs
// already set, and without a CPU ceiling: a start is short and is what a
// waking client waits for. The CPU ceiling applies from the moment it serves.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { SizeResources } from '../compute-size.js';
import type { ComputeUsage, LimitsOutcome } from './driver.js';
import { openCgroups, type Cgroups } from './cgroups.js';

/** /proc/<pid>/stat counts CPU time in USER_HZ ticks, 100 per second on every Linux architecture Node runs on. */
const USER_HZ = 100;

export class ProcessLimits {
  private cgroups: Promise<Cgroups | undefined> | undefined;

  constructor(
    private readonly dataDir: string,
    private readonly mode: 'auto' | 'off',
    private readonly logger?: Logger,
  ) {}

  /** The groups, opened once; undefined (said once in the log) when they cannot be used. */
  groups(): Promise<Cgroups | undefined> {
    this.cgroups ??= this.open();
    return this.cgroups;
  }

  /** Creates the compute's groups with the size's memory limit; answers the cgroup.procs files the new process enters. */
  async beforeStart(computeId: string, size: SizeResources): Promise<string[]> {
    const g = await this.groups();
    if (!g) return [];
    return g.prepare(computeId, { millicores: size.cpuMillicores, throttle: false, memoryBytes: size.memoryBytes });
  }

  /** Sets the size's limits on the running process (moving it into its groups if it is not there yet). */
  async apply(computeId: string, pid: number, size: SizeResources): Promise<LimitsOutcome> {
    const g = await this.groups();
    if (!g) return { enforced: false, why: 'cgroups are not available to this control plane (see its start log)' };
    if (!(await g.contains(computeId, pid))) await g.enter(computeId, pid);
    await g.limit(computeId, { millicores: size.cpuMillicores, throttle: true, memoryBytes: size.memoryBytes });
    return { enforced: true, how: `cgroup ${g.version}${g.placement ? ' with CPU placement' : ''}` };
  }

  /** After the process is gone. */
  async released(computeId: string): Promise<void> {
    await (await this.groups())?.remove(computeId);
  }

  /** When the driver closes: the groups' bases go if no compute is left in them. */
  async close(): Promise<void> {
    if (this.cgroups) await (await this.cgroups)?.close();
  }

  private async open(): Promise<Cgroups | undefined> {
    if (this.mode === 'off') {
      this.logger?.info('compute limits off (--cgroups off): computes run without CPU or memory limits');
      return undefined;
    }
    // One scope per data directory: control planes sharing it share the groups.
    const scope = createHash('sha256').update(this.dataDir).digest('hex').slice(0, 12);
    const opened = await openCgroups(scope);
    if ('unavailable' in opened) {
      this.logger?.warn({ reason: opened.unavailable }, 'cgroups unavailable: computes run without CPU or memory limits, and one project can take another\'s CPU and memory');
      return undefined;
    }
    if (!opened.placement) this.logger?.info('no cpuset controller: computes get CPU quotas but may run on any CPU');
    this.logger?.info({ version: opened.version, groups: opened.bases, cpuPlacement: opened.placement }, 'compute limits by cgroups');
    return opened;
  }
}

/** CPU time and resident memory of a process, from /proc; undefined parts could not be read. */
export async function processUsage(pid: number): Promise<ComputeUsage> {
  const usage: ComputeUsage = {};
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (stat) {
    // Fields after the parenthesised name: state is the 3rd field, utime the 14th, stime the 15th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    if (Number.isFinite(utime) && Number.isFinite(stime)) usage.cpuSecondsTotal = (utime + stime) / USER_HZ;
  }
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => undefined);
  const rss = status ? /^VmRSS:\s+(\d+) kB$/m.exec(status) : null;
  if (rss) usage.memoryBytes = Number(rss[1]) * 1024;
  return usage;
}
