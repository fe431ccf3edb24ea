// Child process: opens many authenticated mysql2 connections (each runs one
// SELECT 1, so it is fully set up end to end), holds them idle until told to
// release, then closes them all. Opening is paced (a bounded number in flight)
// so the listener's accept backlog never overflows.
import mysql from 'mysql2/promise';
import { reportFailure, type OpenClients } from './worker-pool.js';

type Open = OpenClients;

const held: mysql.Connection[] = [];

async function open(m: Open): Promise<void> {
  let next = 0;
  let errors = 0;
  let firstError: string | undefined;
  const lane = async () => {
    while (next < m.count) {
      next++;
      try {
        const c = await mysql.createConnection({ host: m.host, port: m.port, user: m.user, password: m.password, connectTimeout: 30_000 });
        await c.query('SELECT 1');
        held.push(c);
      } catch (err) {
        errors++;
        firstError ??= (err as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(m.inFlight, m.count) }, lane));
  process.send!({ type: 'held', opened: held.length, errors, firstError });
}

async function release(): Promise<void> {
  const all = held.splice(0);
  // Bounded batches: 10,000 simultaneous quits would only flood the proxy.
  for (let i = 0; i < all.length; i += 500) {
    await Promise.all(all.slice(i, i + 500).map((c) => c.end().catch(() => c.destroy())));
  }
  process.send!({ type: 'released', closed: all.length });
}

process.on('message', (m: Open | { type: 'release' }) => {
  if (m?.type === 'open') open(m).catch(reportFailure);
  if (m?.type === 'release') release().catch(reportFailure);
});
process.send!({ type: 'ready' });
