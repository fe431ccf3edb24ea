// One timed run of mysql2 load (churn, or point selects without sysbench),
// spread over an already started group of load-worker processes.
import mysql from 'mysql2/promise';
import type { Endpoint } from './contenders.js';
import { Histogram, type HistogramData } from './histogram.js';
import { BENCH_DATABASE } from './mariadb.js';
import { split, type WorkerGroup, type WorkerMessage } from './workers/worker-pool.js';

export interface LoadRun {
  /** Completed operations per second over the run. */
  rate: number;
  ops: number;
  errors: number;
  firstError: string | undefined;
  histogram: Histogram;
}

interface Done extends WorkerMessage {
  ops: number;
  errors: number;
  firstError?: string;
  elapsedMs: number;
  histogram: HistogramData;
}

export async function runMysql2Load(
  group: WorkerGroup,
  e: Endpoint,
  mode: 'churn' | 'point-select',
  connections: number,
  seconds: number,
  tableSize: number,
): Promise<LoadRun> {
  const shares = split(connections, group.workers.length);
  const busy = group.workers.filter((_, i) => shares[i]! > 0);
  busy.forEach((w, i) =>
    w.send({ type: 'go', mode, ...e, database: BENCH_DATABASE, connections: shares[i]!, seconds, tableSize }),
  );
  const results = await Promise.all(busy.map((w) => w.next<Done>('done', (seconds + 60) * 1_000)));
  const histogram = Histogram.merge(results.map((r) => Histogram.from(r.histogram)));
  const elapsed = Math.max(...results.map((r) => r.elapsedMs)) / 1_000;
  const ops = results.reduce((s, r) => s + r.ops, 0);
  return {
    rate: ops / elapsed,
    ops,
    errors: results.reduce((s, r) => s + r.errors, 0),
    firstError: results.find((r) => r.firstError)?.firstError,
    histogram,
  };
}

/** sysbench's sbtest1, made with mysql2 when sysbench is not installed. */
export async function prepareTableWithMysql2(e: Endpoint, rows: number): Promise<void> {
  const c = await mysql.createConnection({ ...e, database: BENCH_DATABASE });
  try {
    await c.query('DROP TABLE IF EXISTS sbtest1');
    await c.query('CREATE TABLE sbtest1 (id INT PRIMARY KEY AUTO_INCREMENT, k INT NOT NULL, c CHAR(120) NOT NULL, pad CHAR(60) NOT NULL)');
    for (let done = 0; done < rows; done += 1_000) {
      const batch = Array.from({ length: Math.min(1_000, rows - done) }, (_, i) => [done + i + 1, 'c'.repeat(119), 'p'.repeat(59)]);
      await c.query('INSERT INTO sbtest1 (k, c, pad) VALUES ?', [batch]);
    }
  } finally {
    await c.end();
  }
}
