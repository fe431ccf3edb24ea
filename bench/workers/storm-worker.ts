// Child process: at an agreed instant, opens all its clients at once (mysql2
// connect + SELECT 1 + quit) and reports when each was served, measured from
// that instant. Several of these together make the storm.
import mysql from 'mysql2/promise';
import { reportFailure } from './worker-pool.js';

interface Go {
  type: 'go';
  host: string;
  port: number;
  user: string;
  password: string;
  clients: number;
  /** Epoch milliseconds (performance.timeOrigin-based) at which every worker starts. */
  startAt: number;
  timeoutMs: number;
}

const now = () => performance.timeOrigin + performance.now();

async function storm(go: Go): Promise<void> {
  const wait = go.startAt - now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  const served: number[] = [];
  const errors: Record<string, number> = {};
  await Promise.all(
    Array.from({ length: go.clients }, async () => {
      try {
        const c = await mysql.createConnection({
          host: go.host,
          port: go.port,
          user: go.user,
          password: go.password,
          connectTimeout: go.timeoutMs,
        });
        try {
          await c.query('SELECT 1');
          served.push(now() - go.startAt);
        } finally {
          await c.end().catch(() => {});
        }
      } catch (err) {
        const key = String((err as Error).message).slice(0, 160);
        errors[key] = (errors[key] ?? 0) + 1;
      }
    }),
  );
  process.send!({ type: 'done', served, errors });
}

process.on('message', (m: Go) => {
  if (m?.type === 'go') storm(m).catch(reportFailure);
});
process.send!({ type: 'ready' });
