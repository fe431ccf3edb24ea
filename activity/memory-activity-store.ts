// The activity store without Redis: for `wake-proxy dev`, where the proxy and
// the control plane share one process and so one object. Same rules as the
// Redis store (reports expire, last activity keeps its maximum, usage buckets
// are absolute per proxy) so dev mode behaves like production.
import {
  USAGE_BUCKET_MS,
  USAGE_RETENTION_MS,
  type ActivityReport,
  type ActivitySnapshot,
  type ActivityStore,
  type UsageTotals,
} from './activity-store.js';

interface LiveReport {
  clients: Map<string, number>;
  expiresAt: number;
}

interface BucketCounters {
  bytesIn: number;
  bytesOut: number;
  connectionMs: number;
}

export class MemoryActivityStore implements ActivityStore {
  readonly kind = 'memory';
  private readonly reports = new Map<string, LiveReport>();
  private readonly lastActive = new Map<string, number>();
  /** project -> bucket start -> proxy id -> that proxy's totals in the bucket. */
  private readonly usage = new Map<string, Map<number, Map<string, BucketCounters>>>();
  private readonly epochStartedAt: number;

  constructor(private readonly now: () => number = Date.now) {
    this.epochStartedAt = now();
  }

  async write(r: ActivityReport): Promise<void> {
    this.reports.set(r.proxyId, { clients: new Map(r.clients), expiresAt: this.now() + r.ttlMs });
    for (const [project, at] of r.lastActive) {
      if (at > (this.lastActive.get(project) ?? 0)) this.lastActive.set(project, at);
    }
    for (const u of r.usage) {
      let buckets = this.usage.get(u.project);
      if (!buckets) this.usage.set(u.project, (buckets = new Map()));
      let perProxy = buckets.get(u.bucketStart);
      if (!perProxy) buckets.set(u.bucketStart, (perProxy = new Map()));
      perProxy.set(r.proxyId, { bytesIn: u.bytesIn, bytesOut: u.bytesOut, connectionMs: u.connectionMs });
    }
    this.prune();
  }

  async readActivity(projects: string[]): Promise<ActivitySnapshot> {
    const now = this.now();
    const wanted = new Set(projects);
    const clients = new Map<string, number>();
    for (const [proxyId, report] of this.reports) {
      if (report.expiresAt <= now) {
        this.reports.delete(proxyId);
        continue;
      }
      for (const [project, n] of report.clients) {
        if (wanted.has(project)) clients.set(project, (clients.get(project) ?? 0) + n);
      }
    }
    const lastActive = new Map<string, number>();
    for (const p of wanted) {
      const at = this.lastActive.get(p);
      if (at !== undefined) lastActive.set(p, at);
    }
    return { clients, lastActive, epochStartedAt: this.epochStartedAt };
  }

  async readUsage(project: string, fromMs: number, toMs: number): Promise<UsageTotals> {
    const totals = { bytesIn: 0, bytesOut: 0, connectionSeconds: 0 };
    for (const [start, perProxy] of this.usage.get(project) ?? []) {
      if (start <= fromMs - USAGE_BUCKET_MS || start >= toMs) continue;
      for (const c of perProxy.values()) {
        totals.bytesIn += c.bytesIn;
        totals.bytesOut += c.bytesOut;
        totals.connectionSeconds += c.connectionMs / 1000;
      }
    }
    return totals;
  }

  async close(): Promise<void> {}

  private prune(): void {
    const oldest = this.now() - USAGE_RETENTION_MS;
    for (const buckets of this.usage.values()) {
      for (const start of buckets.keys()) if (start < oldest) buckets.delete(start);
    }
  }
}
