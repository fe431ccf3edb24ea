// Child process: drives mysql2 clients for a fixed time and reports a latency
// histogram. Modes:
//   churn         each loop connects, runs SELECT 1, disconnects (what a
//                 serverless function or PHP request does)
//   point-select  persistent connections running sysbench's point select
//                 (the fallback when sysbench is not installed)
import mysql from 'mysql2/promise';
import { Histogram } from '../histogram.js';
import { reportFailure } from './worker-pool.js';

interface Go {
  type: 'go';
  mode: 'churn' | 'point-select';
  host: string;
  port: number;
  user: string;
  password: string;
  /** TLS through the SSLRequest; the bench's certificate is self-signed. */
  tls?: boolean;
  database: string;
  connections: number;
  seconds: number;
  tableSize: number;
}

async function run(go: Go): Promise<void> {
  const histogram = new Histogram();
  let errors = 0;
  let firstError: string | undefined;
  const started = performance.now();
  const deadline = started + go.seconds * 1_000;
  const opts = {
    host: go.host,
    port: go.port,
    user: go.user,
    password: go.password,
    database: go.database,
    connectTimeout: 10_000,
    ...(go.tls ? { ssl: { rejectUnauthorized: false } } : {}),
  };
  const failed = async (err: unknown) => {
    errors++;
    firstError ??= (err as Error).message;
    // A failing target must not turn the loop into a busy spin.
    await new Promise((r) => setTimeout(r, 10));
  };

  const churnLoop = async () => {
    while (performance.now() < deadline) {
      const t = performance.now();
      try {
        const c = await mysql.createConnection(opts);
        await c.query('SELECT 1');
        await c.end();
        histogram.record(performance.now() - t);
      } catch (err) {
        await failed(err);
      }
    }
  };

  const pointSelectLoop = async () => {
    const c = await mysql.createConnection(opts);
    try {
      while (performance.now() < deadline) {
        const id = 1 + Math.floor(Math.random() * go.tableSize);
        const t = performance.now();
        try {
          await c.execute('SELECT c FROM sbtest1 WHERE id=?', [id]);
          histogram.record(performance.now() - t);
        } catch (err) {
          await failed(err);
        }
      }
    } finally {
      await c.end().catch(() => {});
    }
  };

  const loop = go.mode === 'churn' ? churnLoop : pointSelectLoop;
  await Promise.all(Array.from({ length: go.connections }, loop));
  process.send!({
    type: 'done',
    ops: histogram.count,
    errors,
    firstError,
    elapsedMs: performance.now() - started,
    histogram: histogram.toJSON(),
  });
}

process.on('message', (m: Go) => {
  if (m?.type === 'go') run(m).catch(reportFailure);
});
process.send!({ type: 'ready' });
