// The primary's /metrics: every worker's registry, asked over the IPC channel and
// merged with prom-client's aggregation (counters and gauges summed, histograms
// merged bucket by bucket; of Node's own metrics the event-loop lag figures are
// averaged or take the min/max, nodejs_version_info the first, and
// process_start_time_seconds is left out). A worker that does not answer in time
// makes the scrape a 503 naming it: a sum missing a worker would read as a drop
// of every counter.
import type { Worker } from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import { ScrapeUnavailable, type Scrape } from '../proxy/admin-http.js';
import type { ToWorker } from './worker-channel.js';

export const SCRAPE_TIMEOUT_MS = 2_000;

interface PendingScrape {
  /** Answers by worker id. */
  answers: Map<number, unknown[]>;
  expected: readonly Worker[];
  settle(err: Error | undefined): void;
}

export class WorkerMetrics {
  private seq = 0;
  private readonly pending = new Map<number, PendingScrape>();

  constructor(private readonly timeoutMs = SCRAPE_TIMEOUT_MS) {}

  /** Asks every worker in `workers` for its metrics and merges them; rejects with ScrapeUnavailable when one does not answer. */
  scrape(workers: readonly Worker[]): Promise<Scrape> {
    const id = ++this.seq;
    return new Promise<Scrape>((resolve, reject) => {
      const answers = new Map<number, unknown[]>();
      const timer = setTimeout(() => {
        const silent = workers.filter((w) => !answers.has(w.id)).map((w) => w.process.pid);
        scrape.settle(new ScrapeUnavailable(`metrics unavailable: worker ${silent.join(', ')} did not answer within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      const scrape: PendingScrape = {
        answers,
        expected: workers,
        settle: (err) => {
          clearTimeout(timer);
          this.pending.delete(id);
          if (err) return reject(err);
          const merged = AggregatorRegistry.aggregate([...answers.values()] as Parameters<typeof AggregatorRegistry.aggregate>[0]);
          merged.metrics().then((text) => resolve({ contentType: merged.contentType, text }), reject);
        },
      };
      this.pending.set(id, scrape);
      const ask: ToWorker = { type: 'wake-proxy:metrics?', id };
      for (const w of workers) w.send(ask);
    });
  }

  /** A worker's answer to scrape `id`. */
  answered(worker: Worker, id: number, metrics: unknown[]): void {
    const scrape = this.pending.get(id);
    if (!scrape || !scrape.expected.includes(worker)) return;
    scrape.answers.set(worker.id, metrics);
    if (scrape.answers.size === scrape.expected.length) scrape.settle(undefined);
  }

  /** A worker could not collect its metrics for scrape `id`. */
  failed(worker: Worker, id: number, error: string): void {
    this.pending.get(id)?.settle(new Error(`worker ${worker.process.pid} could not collect its metrics: ${error}`));
  }
}
