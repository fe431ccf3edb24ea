// Child process: application-style clients of one driver (mysql2 with execute(),
// or the npm mariadb connector with execute() and query()) that log in, then run a
// statement about once a period (jittered) while staying connected, the way an
// application's connection pool does. The parent tells it when to open, run,
// pause (idle but connected) and release; every statement's answer is checked.
import mysql from 'mysql2/promise';
import mariadb from 'mariadb';
import { reportFailure, type OpenClients } from './worker-pool.js';

export type Driver = 'mysql2' | 'mariadb';

interface Open extends OpenClients {
  driver: Driver;
}

interface Run {
  type: 'run';
  /** How long the clients keep running statements. */
  ms: number;
  /** Mean time between a client's statements; each wait is drawn from 0.5-1.5 of it. */
  periodMs: number;
}

interface Once {
  type: 'once';
  /** Each client's statement starts at a random moment within this window. */
  spreadMs: number;
}

/** One statement through one client; resolves to the number it got back. */
type Client = { statement(n: number): Promise<number>; close(): Promise<void> };

const clients: Client[] = [];
const errors: Record<string, number> = {};
let statements = 0;

function countError(err: unknown): void {
  const key = String((err as Error)?.message ?? err).slice(0, 160);
  errors[key] = (errors[key] ?? 0) + 1;
}

async function openClient(m: Open, index: number): Promise<Client> {
  if (m.driver === 'mysql2') {
    const c = await mysql.createConnection({ host: m.host, port: m.port, user: m.user, password: m.password, connectTimeout: 30_000 });
    return {
      // A binary prepared statement, as applications using execute() send.
      async statement(n) {
        const [rows] = await c.execute('SELECT ? + 0 AS v', [n]);
        return Number((rows as Array<{ v: unknown }>)[0]!.v);
      },
      close: () => c.end().catch(() => c.destroy()),
    };
  }
  const c = await mariadb.createConnection({ host: m.host, port: m.port, user: m.user, password: m.password, connectTimeout: 30_000 });
  return {
    // Half the clients use the binary protocol, half text queries with client-side parameters.
    async statement(n) {
      const rows = index % 2 === 0 ? await c.execute('SELECT ? + 0 AS v', [n]) : await c.query('SELECT ? + 0 AS v', [n]);
      return Number((rows as Array<{ v: unknown }>)[0]!.v);
    },
    close: () => c.end().catch(() => c.destroy()),
  };
}

async function checked(c: Client): Promise<boolean> {
  const n = Math.floor(Math.random() * 1_000_000);
  try {
    const got = await c.statement(n);
    if (got !== n) throw new Error(`asked for ${n}, got ${got}`);
    statements++;
    return true;
  } catch (err) {
    countError(err);
    return false;
  }
}

/** Each login's latency is kept: from connecting to the login's OK (the driver's connect). */
async function open(m: Open): Promise<void> {
  let next = 0;
  const logins: number[] = [];
  const lane = async () => {
    while (next < m.count) {
      const i = next++;
      try {
        const t0 = performance.now();
        const c = await openClient(m, i);
        logins.push(performance.now() - t0);
        clients.push(c);
        await checked(c);
      } catch (err) {
        countError(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(m.inFlight, m.count) }, lane));
  process.send!({ type: 'opened', opened: clients.length, logins, errors: { ...errors } });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Each answered statement's latency is kept: what the pool's waits cost a client. */
async function run(m: Run): Promise<void> {
  const end = Date.now() + m.ms;
  const before = statements;
  const latencies: number[] = [];
  await Promise.all(
    clients.map(async (c) => {
      await sleep(Math.random() * m.periodMs);
      while (Date.now() < end) {
        const t0 = performance.now();
        if (await checked(c)) latencies.push(performance.now() - t0);
        await sleep(m.periodMs * (0.5 + Math.random()));
      }
    }),
  );
  process.send!({ type: 'ran', statements: statements - before, latencies, errors: { ...errors } });
}

/** Every client's next statement after the idle pause; latency from the moment it was sent. */
async function once(m: Once): Promise<void> {
  const latencies: number[] = [];
  await Promise.all(
    clients.map(async (c) => {
      await sleep(Math.random() * m.spreadMs);
      const t0 = performance.now();
      if (await checked(c)) latencies.push(performance.now() - t0);
    }),
  );
  process.send!({ type: 'answered', latencies, errors: { ...errors } });
}

async function release(): Promise<void> {
  const all = clients.splice(0);
  await Promise.all(all.map((c) => c.close()));
  process.send!({ type: 'released', closed: all.length });
}

process.on('message', (m: Open | Run | Once | { type: 'release' }) => {
  if (m?.type === 'open') open(m).catch(reportFailure);
  if (m?.type === 'run') run(m).catch(reportFailure);
  if (m?.type === 'once') once(m).catch(reportFailure);
  if (m?.type === 'release') release().catch(reportFailure);
});
process.send!({ type: 'ready' });
