// The autoscaler's rules, as pure functions of what it sampled (the sampling
// and the resizing are autoscaler.ts's). Modelled on Neon's autoscaler: each
// signal asks for a size, the goal is the largest of them, up at once, down
// only after the goal stayed lower for a while, never outside the range.
//
//   cpu:          load / (CPUs per CU x cpuTarget), where load is the larger of the CPUs
//                 the server used over the last interval and the statements running
//                 (its run queue: it grows past the CPUs a throttled compute has; the
//                 lower median of the last samples, so that one statement caught
//                 running on an idle compute, the control plane's own read, say, does
//                 not double a 0.25 CU size);
//   memory:       memory outside the buffer pool / (that share of a CU x memoryTarget);
//   working set:  the pages the pool caches while it is read, divided by the pool's hit
//                 ratio when the pool is full and misses (with a uniform access pattern
//                 a pool of P pages over a working set of W hits P/W of the time, so
//                 W ~ P / hit); over the pool a CU gives.
import { BUFFER_POOL_FRACTION, clamp, CPU_MILLICORES_PER_CU, MEMORY_BYTES_PER_CU, stepUp, type SizeRange } from './compute-size.js';

/** One sample of a compute: its server's status and, where the driver sees it, its process. */
export interface AutoscaleSample {
  /** Unix ms. */
  at: number;
  /** CPU time used since start (seconds), from the process or its group; rates come from two samples. */
  cpuSecondsTotal?: number;
  /** CPUs in use now, where only a rate is known (Kubernetes metrics). */
  cpuCores?: number;
  /** Resident memory of the server. */
  memoryBytes?: number;
  threadsRunning: number;
  pageSize: number;
  pagesTotal: number;
  pagesData: number;
  pagesFree: number;
  readRequests: number;
  reads: number;
}

export interface AutoscaleRules {
  /** Load over this fraction of the CPUs a size gives asks for a larger size. */
  cpuTarget: number;
  /** Memory outside the pool over this fraction of its share asks for a larger size. */
  memoryTarget: number;
  /** A full pool that hits less than this asks for a larger one. */
  hitTarget: number;
  /** Below this many pool reads per second the pool's hit ratio says nothing. */
  minPoolReadsPerSecond: number;
  /** How many recent samples the run queue is the (lower) median of. */
  runQueueSamples: number;
  /** A smaller goal must hold this long (and the size must not have changed for as long) before going down. */
  downAfterMs: number;
}

export const DEFAULT_RULES: AutoscaleRules = {
  cpuTarget: 0.9,
  memoryTarget: 0.75,
  hitTarget: 0.99,
  minPoolReadsPerSecond: 50,
  runQueueSamples: 3,
  downAfterMs: 60_000,
};

export type ScaleCause = 'cpu' | 'memory' | 'working_set' | 'minimum';

/** What each signal asks for, in CU (fractions, before rounding to a size). */
export interface Demand {
  cpu: number;
  memory: number;
  workingSet: number;
  /** The inputs, for logs and the bench. */
  load: number;
  cpuCores: number;
  runQueue: number;
  hitRatio: number | null;
}

/** The demand the newest sample shows, with the ones before it (oldest first) for rates and averages. */
export function demandOf(history: readonly AutoscaleSample[], rules: AutoscaleRules): Demand {
  const cur = history[history.length - 1];
  if (!cur) throw new Error('demandOf needs at least one sample');
  const prev = history.length > 1 ? history[history.length - 2] : undefined;
  const dt = prev ? (cur.at - prev.at) / 1000 : 0;

  let cpuCores = cur.cpuCores ?? 0;
  if (prev && dt > 0 && cur.cpuSecondsTotal !== undefined && prev.cpuSecondsTotal !== undefined && cur.cpuSecondsTotal >= prev.cpuSecondsTotal) {
    cpuCores = (cur.cpuSecondsTotal - prev.cpuSecondsTotal) / dt;
  }
  const runQueue = lowerMedian(history.slice(-rules.runQueueSamples).map((x) => x.threadsRunning));
  const load = Math.max(cpuCores, runQueue);
  const cpu = load / ((CPU_MILLICORES_PER_CU / 1000) * rules.cpuTarget);

  const poolResident = (cur.pagesTotal - cur.pagesFree) * cur.pageSize;
  const outsidePool = Math.max(0, (cur.memoryBytes ?? 0) - poolResident);
  const memory = outsidePool / (MEMORY_BYTES_PER_CU * (1 - BUFFER_POOL_FRACTION) * rules.memoryTarget);

  let hitRatio: number | null = null;
  let workingSetBytes = 0;
  const requests = prev ? cur.readRequests - prev.readRequests : 0;
  if (prev && dt > 0 && requests >= rules.minPoolReadsPerSecond * dt) {
    const misses = Math.max(0, cur.reads - prev.reads);
    hitRatio = Math.max(0, 1 - misses / requests);
    const cached = cur.pagesData * cur.pageSize;
    const full = cur.pagesFree < cur.pagesTotal * 0.05;
    // At most double the pool per step: a burst of misses (a scan) is not a working set yet.
    workingSetBytes = full && hitRatio < rules.hitTarget ? cached / Math.max(hitRatio, 0.5) : cached;
  }
  const workingSet = workingSetBytes / (MEMORY_BYTES_PER_CU * BUFFER_POOL_FRACTION);
  return { cpu, memory, workingSet, load, cpuCores, runQueue, hitRatio };
}

/** The size the demand asks for, rounded up to a step within the range, and the signal that asked most. */
export function goalOf(d: Demand, range: SizeRange): { goalMilli: number; cause: ScaleCause } {
  const asks: Array<[ScaleCause, number]> = [
    ['cpu', d.cpu],
    ['memory', d.memory],
    ['working_set', d.workingSet],
  ];
  const [cause, cu] = asks.reduce((a, b) => (b[1] > a[1] ? b : a));
  // Asking for no more than the smallest size the range allows is no signal's doing.
  return { goalMilli: stepUp(cu, range), cause: cu * 1000 <= range.minMilli ? 'minimum' : cause };
}

/** What the autoscaler remembers of one compute between decisions. */
export interface ScalerMemory {
  /** When its size last changed (or it was first seen at it). */
  changedAt: number;
  /** Goals within the last downAfterMs, oldest first. */
  goals: Array<{ at: number; goalMilli: number; cause: ScaleCause }>;
}

export interface Decision {
  /** The size to go to; the current one when nothing changes. */
  targetMilli: number;
  direction: 'up' | 'down' | 'hold';
  /** Why: the signal behind the goal, or 'range' when only the range moved it. */
  cause: ScaleCause | 'range';
}

/**
 * The next size: up to the goal at once; down to the highest goal of the last
 * downAfterMs once the size has been unchanged that long; into the range
 * whenever it is outside it. Updates `memory` with the goal.
 */
export function decide(
  memory: ScalerMemory,
  sizeMilli: number,
  goal: { goalMilli: number; cause: ScaleCause },
  range: SizeRange,
  now: number,
  rules: AutoscaleRules,
): Decision {
  memory.goals.push({ at: now, ...goal });
  while (memory.goals.length > 0 && memory.goals[0]!.at < now - rules.downAfterMs) memory.goals.shift();
  if (goal.goalMilli > sizeMilli) return { targetMilli: goal.goalMilli, direction: 'up', cause: goal.cause };
  const inRange = clamp(sizeMilli, range);
  if (inRange !== sizeMilli) return { targetMilli: inRange, direction: inRange > sizeMilli ? 'up' : 'down', cause: 'range' };
  const settled = now - memory.changedAt >= rules.downAfterMs && memory.goals.length >= 3;
  if (settled) {
    const highest = memory.goals.reduce((a, b) => (b.goalMilli > a.goalMilli ? b : a));
    if (highest.goalMilli < sizeMilli) return { targetMilli: highest.goalMilli, direction: 'down', cause: highest.cause };
  }
  return { targetMilli: sizeMilli, direction: 'hold', cause: goal.cause };
}

/** The middle value, the lower of the two middle ones for an even count: one sample alone says nothing. */
function lowerMedian(values: number[]): number {
  if (values.length < 2) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}
