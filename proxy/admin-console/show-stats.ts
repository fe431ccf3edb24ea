// SHOW STATS: totals since the proxy started and rates over the last minute, read
// from the proxy's own metrics (so they agree with /metrics). One row per figure,
// a labelled metric as its sum and one row per label value (`wakes.ok`). Rates come
// from samples the console takes every few seconds: one timer per console.
import type { Counter, Gauge } from 'prom-client';
import type { ProxyMetrics } from '../metrics.js';
import { rows, seconds, type ConsoleColumn, type ConsoleReply } from './console-reply.js';

export const STATS_COLUMNS: readonly ConsoleColumn[] = [
  { name: 'name', kind: 'text' },
  /** Since the proxy started; for a gauge, its value now. */
  { name: 'total', kind: 'int' },
  /** Per second over the last minute (less while the console is younger); NULL for a gauge. */
  { name: 'per_second', kind: 'seconds' },
];

interface StatSource {
  name: string;
  metric(m: ProxyMetrics): Counter<string> | Gauge<string>;
  /** A label whose values each get a row. */
  label?: string;
  /** A value now, not a running total: no rate. */
  gauge?: true;
}

const SOURCES: readonly StatSource[] = [
  { name: 'clients_active', metric: (m) => m.connectionsActive, gauge: true },
  { name: 'clients_waiting_for_wake', metric: (m) => m.clientsWaiting, gauge: true },
  { name: 'connections_opened', metric: (m) => m.connectionsOpened },
  { name: 'connections_refused', metric: (m) => m.connectionsRefused, label: 'reason' },
  { name: 'wakes', metric: (m) => m.wakeRequests, label: 'outcome' },
  { name: 'bytes', metric: (m) => m.bytesRelayed, label: 'direction' },
  { name: 'session_errors', metric: (m) => m.sessionErrors, label: 'kind' },
  { name: 'pool_borrows', metric: (m) => m.poolBorrows },
  { name: 'pins', metric: (m) => m.sessionPins, label: 'reason' },
];

const GAUGES = new Set(SOURCES.filter((s) => s.gauge).map((s) => s.name));

/** Every figure now, in the order SHOW STATS lists them. */
export async function readTotals(metrics: ProxyMetrics): Promise<Map<string, number>> {
  const totals = new Map<string, number>();
  for (const source of SOURCES) {
    const { values } = await source.metric(metrics).get();
    totals.set(source.name, values.reduce((sum, v) => sum + v.value, 0));
    if (!source.label) continue;
    const parts = values
      .map((v) => [String(v.labels[source.label!]), v.value] as const)
      .sort(([a], [b]) => a.localeCompare(b));
    for (const [value, n] of parts) totals.set(`${source.name}.${value}`, n);
  }
  return totals;
}

interface Sample {
  at: number;
  totals: ReadonlyMap<string, number>;
}

/** Samples of the totals, every `everyMs`, kept for `windowMs`: what rates are measured against. */
export class StatsWindow {
  private readonly samples: Sample[] = [];
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly read: () => Promise<Map<string, number>>,
    private readonly windowMs = 60_000,
    everyMs = 5_000,
  ) {
    void this.sample();
    this.timer = setInterval(() => void this.sample(), everyMs).unref();
  }

  async show(): Promise<ConsoleReply> {
    const now = performance.now();
    const totals = await this.read();
    const base = this.samples.find((s) => now - s.at <= this.windowMs);
    const elapsed = base ? seconds(now - base.at) : 0;
    const data = [...totals].map(([name, total]) => {
      const family = name.split('.')[0]!;
      const rate = GAUGES.has(family) || !base || elapsed < 1 ? null : (total - (base.totals.get(name) ?? 0)) / elapsed;
      return [name, total, rate];
    });
    return rows(STATS_COLUMNS, data);
  }

  close(): void {
    clearInterval(this.timer);
  }

  private async sample(): Promise<void> {
    const at = performance.now();
    const totals = await this.read().catch(() => null);
    if (!totals) return;
    this.samples.push({ at, totals });
    while (at - this.samples[0]!.at > this.windowMs) this.samples.shift();
  }
}
