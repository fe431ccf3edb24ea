// `--pin`: the contenders startContenders starts (point-select, churn, read-write:
// HAProxy, the Node relays and floors, the proxies) on a CPU of their own, and everything else (the bench itself, sysbench and the other load
// generators, the compute, the control plane) on the rest: a proxy host apart from
// the computes' hosts, as deployed. Without it all share every CPU, and a contender
// that spares the compute work (a pooled login) leaves CPU to itself as well.
//
// The bench process is moved first, so what it starts afterwards inherits the rest;
// each contender is moved once it listens (all its threads: `taskset -a`).
import { availableParallelism } from 'node:os';
import { formatCpuList } from '../control-plane/drivers/cpu-placement.js';
import { runCommand } from './processes.js';

export interface Placement {
  /** Where contenders run. */
  contenders: number[];
  /** Where everything else runs. */
  rest: number[];
}

/** The last CPU for the contenders, the others for the rest; an error on a machine of one CPU. */
export function planPlacement(cpus = availableParallelism()): Placement {
  if (cpus < 2) throw new Error(`--pin needs at least 2 CPUs; this machine has ${cpus}`);
  return { contenders: [cpus - 1], rest: Array.from({ length: cpus - 1 }, (_, i) => i) };
}

export function describePlacement(p: Placement): string {
  return `contenders on CPU ${formatCpuList(p.contenders)}; the bench, load generators, compute and control plane on CPU ${formatCpuList(p.rest)}`;
}

/** Every thread of `pid` (and what it starts later) on `cpus`. */
export async function pinProcess(pid: number, cpus: readonly number[]): Promise<void> {
  const r = await runCommand('taskset', ['-a', '-p', '-c', formatCpuList(cpus), String(pid)], 10_000);
  if (r.code !== 0) throw new Error(`taskset could not place process ${pid} on CPU ${formatCpuList(cpus)}: ${r.stderr.trim() || `exit code ${r.code}`}`);
}
