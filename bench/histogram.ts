// Latency histograms with log-spaced buckets (about 2.3% wide, 1 µs to 100 s),
// so worker processes can send a compact summary instead of every sample, and
// results from several processes and rounds merge by adding counts. sysbench's
// own histogram is read into the same shape.

const BUCKETS_PER_DECADE = 100;
const MIN_MS = 0.001;
const MAX_BUCKET = 8 * BUCKETS_PER_DECADE;

/** Bucket index -> count, sparse: the form sent over IPC and stored in results.json. */
export type HistogramData = Record<string, number>;

export class Histogram {
  private readonly counts = new Map<number, number>();
  private total = 0;
  private sum = 0;

  static from(data: HistogramData): Histogram {
    const h = new Histogram();
    for (const [k, n] of Object.entries(data)) h.add(Number(k), n);
    return h;
  }

  static merge(parts: Histogram[]): Histogram {
    const h = new Histogram();
    for (const p of parts) for (const [k, n] of p.counts) h.add(k, n);
    return h;
  }

  get count(): number {
    return this.total;
  }

  /** Mean of bucket midpoints: close to, not exactly, the sample mean. */
  get mean(): number {
    return this.total === 0 ? NaN : this.sum / this.total;
  }

  record(ms: number, times = 1): void {
    const k = ms <= MIN_MS ? 0 : Math.min(MAX_BUCKET, Math.floor(Math.log10(ms / MIN_MS) * BUCKETS_PER_DECADE));
    this.add(k, times);
  }

  /** The latency (ms, bucket midpoint) below which a fraction q of samples lie. */
  quantile(q: number): number {
    if (this.total === 0) return NaN;
    const rank = Math.max(1, Math.ceil(q * this.total));
    let seen = 0;
    for (const k of [...this.counts.keys()].sort((a, b) => a - b)) {
      seen += this.counts.get(k)!;
      if (seen >= rank) return bucketMid(k);
    }
    return bucketMid(MAX_BUCKET);
  }

  /** (latency ms, cumulative fraction) points, for drawing a distribution. */
  cdf(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    let seen = 0;
    for (const k of [...this.counts.keys()].sort((a, b) => a - b)) {
      seen += this.counts.get(k)!;
      out.push([bucketMid(k), seen / this.total]);
    }
    return out;
  }

  toJSON(): HistogramData {
    return Object.fromEntries([...this.counts].map(([k, n]) => [String(k), n]));
  }

  private add(k: number, n: number): void {
    this.counts.set(k, (this.counts.get(k) ?? 0) + n);
    this.total += n;
    this.sum += bucketMid(k) * n;
  }
}

function bucketMid(k: number): number {
  return MIN_MS * 10 ** ((k + 0.5) / BUCKETS_PER_DECADE);
}

/** Median of plain numbers (NaN when empty). */
export function median(xs: number[]): number {
  return quantileOf(xs, 0.5);
}

/** Nearest-rank quantile of plain numbers: used for the small per-run sample sets. */
export function quantileOf(xs: number[], q: number): number {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  return v[Math.min(v.length - 1, Math.max(0, Math.ceil(q * v.length) - 1))]!;
}
