// Plans: what a project may use. A project over its quota is not woken: the
// wake answers 403 `quota_exceeded` (the proxy gives its clients an error of
// its own for it), and the leader stops a compute that crosses its quota
// while awake (leader-duties.ts). Raising the quota lets the next wake
// through; nothing is remembered of the refusal.
//
// CU-hours count the calendar month (UTC) so far, from the usage ledger;
// storage is measured where the driver keeps it on this host (process
// driver), and otherwise not limited.
import { ApiError } from './api-error.js';
import type { ProjectRecord } from './records.js';
import type { UsageLedger } from './usage-ledger.js';
import { cuSeconds, monthOf } from './usage-periods.js';

export const QUOTA_EXCEEDED = 'quota_exceeded';

export interface QuotaSources {
  ledger: UsageLedger;
  /** Bytes the compute's data takes; absent where the driver cannot tell. */
  storageBytes?: (computeId: string) => Promise<number>;
  /** Told of every wake refused. */
  refused?: () => void;
}

/** Why the project may not run now, or undefined when it may. */
export async function quotaProblem(src: QuotaSources, p: ProjectRecord, now = Date.now()): Promise<string | undefined> {
  const { cuMsPerMonth, storageBytes } = p.quota;
  if (cuMsPerMonth !== null) {
    const month = monthOf(now);
    const used = cuSeconds((await src.ledger.projectUsage(p.id, month.start, now, false, now)).total) * 1000;
    if (used >= cuMsPerMonth) {
      return `it has used ${hours(used)} of its ${hours(cuMsPerMonth)} CU-hours this month (until ${new Date(month.end).toISOString()})`;
    }
  }
  if (storageBytes !== null && p.computeId && src.storageBytes) {
    const used = await src.storageBytes(p.computeId);
    if (used > storageBytes) return `it stores ${mib(used)} MiB, over its quota of ${mib(storageBytes)} MiB`;
  }
  return undefined;
}

/** Throws the API's quota_exceeded error when the project may not be woken. */
export async function ensureWithinQuota(src: QuotaSources, p: ProjectRecord): Promise<void> {
  const problem = await quotaProblem(src, p);
  if (!problem) return;
  src.refused?.();
  throw new ApiError(403, QUOTA_EXCEEDED, `project '${p.id}' is over its quota: ${problem}; raising the quota lets it wake`);
}

function hours(cuMs: number): string {
  return String(Number((cuMs / 3_600_000).toPrecision(4)));
}

function mib(bytes: number): string {
  return (Math.round((bytes / 1024 ** 2) * 10) / 10).toString();
}
