// The numbers written into a compute's cgroup for its size: the CPU quota per
// CFS period and the weight.

/**
 * The CFS period: a compute gets its quota of CPU time within each period. A
 * shorter one than the kernel's 100 ms keeps a compute that uses up its quota
 * from stalling for long: 0.25 CU waits at most 7.5 ms, not 75.
 */
export const CFS_PERIOD_US = 10_000;

/** CPU time per period for a share of CPUs: 250 millicores is a quarter of each period. */
export function quota(millicores: number): number {
  return Math.max(1_000, Math.round((millicores / 1000) * CFS_PERIOD_US));
}

/** A weight proportional to the size, within the kernel's bounds. */
export function weight(millicores: number, perCpu: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, Math.round((perCpu * millicores) / 1000)));
}
