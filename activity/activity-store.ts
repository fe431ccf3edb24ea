// Where proxies leave what they see of each project (clients connected now,
// last activity, usage counters) and where the idle scheduler and the usage
// endpoint read it. Two implementations: Redis (several proxies, one control
// plane; layout in docs/activity-keys.md) and memory (dev mode: proxy and
// control plane in one process).
//
// Every write is absolute, never an increment: a proxy sends its whole state
// each report interval, so a retried or repeated write changes nothing and a
// store that lost everything (Redis restart) is whole again one interval later.

/**
 * A report counts for this many report intervals: one slow or lost write never
 * drops a live proxy's clients, and a dead proxy's clients stop counting soon.
 */
export const REPORT_TTL_INTERVALS = 3;
/** Usage counters are kept per proxy, project and minute. */
export const USAGE_BUCKET_MS = 60_000;
/** How long usage buckets are kept. */
export const USAGE_RETENTION_MS = 35 * 24 * 3_600_000;

export interface UsageCounters {
  project: string;
  /** Start of the minute (Unix ms) the counters belong to. */
  bucketStart: number;
  /** This proxy's totals within that minute: bytes from clients, to clients, and connection time. */
  bytesIn: number;
  bytesOut: number;
  connectionMs: number;
}

/** One proxy's whole state, written once per report interval. */
export interface ActivityReport {
  /** Unique per proxy process: a restarted proxy is a new reporter. */
  proxyId: string;
  /** Writer's clock, Unix ms. */
  at: number;
  /** How long this report counts if the proxy writes no other (it died): about 3 report intervals. */
  ttlMs: number;
  /** Projects this proxy has clients of now; absent projects have none here. */
  clients: Map<string, number>;
  /** The last time (Unix ms) this proxy saw activity per project; stores keep the maximum over proxies. */
  lastActive: Map<string, number>;
  /** Absolute per-bucket totals of this proxy; rewriting a bucket replaces its values. */
  usage: UsageCounters[];
}

export interface ActivitySnapshot {
  /** Clients per project summed over proxies whose reports have not expired. */
  clients: Map<string, number>;
  /** Last activity per project over all proxies (Unix ms, writers' clocks). */
  lastActive: Map<string, number>;
  /**
   * Since when (Unix ms) the store has held its data without a loss: a Redis
   * that restarted or was flushed starts a new epoch. Until every proxy has
   * reported again after that, an empty count proves nothing.
   */
  epochStartedAt: number;
}

export interface UsageTotals {
  bytesIn: number;
  bytesOut: number;
  connectionSeconds: number;
}

export interface ActivityStore {
  readonly kind: 'redis' | 'memory';
  /** Replaces this proxy's previous report. Rejects if the store cannot be reached. */
  write(report: ActivityReport): Promise<void>;
  /** Rejects if the store cannot be read: callers must then assume everything is in use. */
  readActivity(projects: string[]): Promise<ActivitySnapshot>;
  /** Usage of the minute buckets that overlap [fromMs, toMs), summed over proxies. */
  readUsage(project: string, fromMs: number, toMs: number): Promise<UsageTotals>;
  close(): Promise<void>;
}

export function bucketOf(ms: number): number {
  return ms - (ms % USAGE_BUCKET_MS);
}
