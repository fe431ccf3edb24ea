// Compute sizes. A compute unit (CU) is a fixed slice of a machine: 1 vCPU and
// 4 GiB of memory, half of it InnoDB's buffer pool. Sizes go in quarter steps
// from 0.25 CU to 16 CU; a project has a range (minCu..maxCu) its compute is
// kept within, and the autoscaler moves it inside that range.
//
// Sizes are kept as integer milli-CU (250 = 0.25 CU) in the store and in
// arithmetic, so a sum of CU-seconds never picks up float drift; the API shows
// CU as numbers (0.25, 1.5).

/** The smallest step, and the smallest size. */
export const CU_STEP_MILLI = 250;
export const MIN_CU_MILLI = 250;
export const MAX_CU_MILLI = 16_000;

/** What one CU gives a compute. */
export const CPU_MILLICORES_PER_CU = 1_000;
export const MEMORY_BYTES_PER_CU = 4 * 1024 ** 3;
/** The buffer pool's share of the memory; the rest is for connections, sorts, temporary tables. */
export const BUFFER_POOL_FRACTION = 0.5;
/** max_connections = base + per CU; 0.25 CU gives the 1000 computes always had. */
const CONNECTIONS_BASE = 500;
const CONNECTIONS_PER_CU = 2_000;

/** A project's default range when it is created without one. */
export const DEFAULT_RANGE: SizeRange = { minMilli: 250, maxMilli: 1_000 };

export interface SizeRange {
  minMilli: number;
  maxMilli: number;
}

/** What a size means for the compute's server and its limits. */
export interface SizeResources {
  milli: number;
  cpuMillicores: number;
  memoryBytes: number;
  bufferPoolBytes: number;
  maxConnections: number;
}

export function resourcesOf(milli: number): SizeResources {
  checkSize(milli, 'size');
  const memoryBytes = (MEMORY_BYTES_PER_CU * milli) / 1000;
  return {
    milli,
    cpuMillicores: (CPU_MILLICORES_PER_CU * milli) / 1000,
    memoryBytes,
    bufferPoolBytes: memoryBytes * BUFFER_POOL_FRACTION,
    maxConnections: CONNECTIONS_BASE + (CONNECTIONS_PER_CU * milli) / 1000,
  };
}

/** The mariadbd options a size starts with; the same ones a resize changes online. */
export function sizeArgs(size: SizeResources): string[] {
  return [`--innodb-buffer-pool-size=${size.bufferPoolBytes}`, `--max-connections=${size.maxConnections}`];
}

/** 0.25 for 250: what the API shows. */
export function cuOf(milli: number): number {
  return milli / 1000;
}

/** Throws unless milli is a whole number of steps within the sizes there are. */
export function checkSize(milli: number, what: string): void {
  if (!Number.isInteger(milli) || milli < MIN_CU_MILLI || milli > MAX_CU_MILLI || milli % CU_STEP_MILLI !== 0) {
    throw new RangeError(`${what} ${milli / 1000} CU is not a size: sizes go from ${MIN_CU_MILLI / 1000} to ${MAX_CU_MILLI / 1000} CU in steps of ${CU_STEP_MILLI / 1000}`);
  }
}

/**
 * A CU value given by a user (0.25, 1, 2.5) as milli-CU; undefined when it is
 * not one of the sizes there are (the caller names the field).
 */
export function milliFromCu(value: unknown): number | undefined {
  if (typeof value !== 'number' || !Number.isFinite(value)) return undefined;
  const milli = Math.round(value * 1000);
  if (Math.abs(milli - value * 1000) > 1e-6) return undefined;
  try {
    checkSize(milli, 'size');
  } catch {
    return undefined;
  }
  return milli;
}

/** The smallest size of whole steps that is at least `cu` (a fraction of CU), within the range. */
export function stepUp(cu: number, range: SizeRange): number {
  const milli = Math.ceil((cu * 1000 - 1e-6) / CU_STEP_MILLI) * CU_STEP_MILLI;
  return clamp(milli, range);
}

export function clamp(milli: number, range: SizeRange): number {
  return Math.min(range.maxMilli, Math.max(range.minMilli, milli));
}

/** A range to store: both ends sizes, min <= max. Answers the problem, or undefined. */
export function rangeProblem(range: SizeRange): string | undefined {
  for (const [name, v] of [['minCu', range.minMilli], ['maxCu', range.maxMilli]] as const) {
    try {
      checkSize(v, name);
    } catch (err) {
      return (err as Error).message;
    }
  }
  if (range.minMilli > range.maxMilli) return `minCu ${range.minMilli / 1000} is above maxCu ${range.maxMilli / 1000}`;
  return undefined;
}
