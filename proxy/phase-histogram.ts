// A histogram whose one label takes a few values (the connect phases), observed per
// connection. prom-client's Histogram validates and hashes its labels on every
// observe (a closure, two objects and a string each time, over a microsecond in a
// busy proxy, four times per login); this one finds the label's series in a Map and
// counts into an array. It reads out as prom-client's histogram does, so /metrics and
// anything that calls get() see the same series.
import type { Metric, Registry } from 'prom-client';

interface Series {
  /** Observations per bucket (not cumulative); those above the last bound only in `count`. */
  counts: number[];
  sum: number;
  count: number;
}

export interface HistogramValue {
  labels: Record<string, string | number>;
  value: number;
  metricName: string;
  /** prom-client's buckets carry one (always null without exemplars). */
  exemplar?: null;
}

export class PhaseHistogram<L extends string> {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  /** As prom-client's metrics list them. */
  readonly labelNames: readonly L[];
  private readonly series = new Map<string, Series>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelName: L,
    private readonly buckets: readonly number[],
    registry: Registry,
  ) {
    this.labelNames = [labelName];
    // The registry reads a metric through get(), as it does prom-client's own.
    registry.registerMetric(this as unknown as Metric);
  }

  observe(labels: Readonly<Record<L, string>>, value: number): void {
    if (!Number.isFinite(value)) throw new TypeError(`${this.name}: value is not a valid number: ${value}`);
    const key = labels[this.labelName];
    let s = this.series.get(key);
    if (!s) {
      s = { counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.series.set(key, s);
    }
    const { buckets } = this;
    let i = 0;
    while (i < buckets.length && value > buckets[i]!) i++;
    if (i < buckets.length) s.counts[i]!++;
    s.sum += value;
    s.count++;
  }

  /** As prom-client's Histogram.get(): per series its cumulative buckets, +Inf, sum and count. */
  async get(): Promise<{ name: string; help: string; type: 'histogram'; aggregator: 'sum'; values: HistogramValue[] }> {
    const values: HistogramValue[] = [];
    const bucketName = `${this.name}_bucket`;
    for (const [key, s] of this.series) {
      let acc = 0;
      for (let i = 0; i < this.buckets.length; i++) {
        acc += s.counts[i]!;
        values.push({ labels: { le: this.buckets[i]!, [this.labelName]: key }, value: acc, metricName: bucketName, exemplar: null });
      }
      values.push({ labels: { le: '+Inf', [this.labelName]: key }, value: s.count, metricName: bucketName, exemplar: null });
      values.push({ labels: { [this.labelName]: key }, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { [this.labelName]: key }, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    this.series.clear();
  }
}
