// Scenario 5: memory of the proxy holding many idle, authenticated client
// connections: in pipe mode each with its backend connection; in transaction
// pool mode with none (idle clients hold no compute connection).
// Method: the proxy runs in front of its own mariadbd, started with
// max_connections above N and the thread pool (so 10,000 idle server sessions
// stay cheap); after a warm-up the proxy reports its memory after a full GC,
// then N connections are opened, each runs SELECT 1, and memory is read again.
// bytes per connection = delta RSS / N. HAProxy holding the same N is measured
// alongside for context (its RSS from /proc).
import { join } from 'node:path';
import { findFreePort } from '../../control-plane/drivers/free-port.js';
import { onCleanup } from '../cleanup.js';
import { fdLimit, FD_HEADROOM, rssBytes } from '../proc-info.js';
import { findHaproxy, startHaproxy } from '../haproxy.js';
import { prepareDatadir, startMariadb, type Credentials } from '../mariadb.js';
import { startProxyProcess, type MemorySample } from '../proxy-process.js';
import { startPooledProxy } from '../contenders.js';
import { startWakeStack } from '../wake-stack.js';
import { fmt, say, type BenchContext, type ScenarioResult, type TargetCheck } from '../scenario.js';
import { split, startWorkers, type WorkerGroup, type WorkerMessage } from '../workers/worker-pool.js';

const ID = 'idle';
const WARMUP_CONNECTIONS = 100;

interface Held extends WorkerMessage {
  opened: number;
  errors: number;
  firstError?: string;
}

interface Measured {
  label: string;
  held: number;
  errors: number;
  firstError: string | undefined;
  before: Partial<MemorySample> & { rss: number };
  after: Partial<MemorySample> & { rss: number };
}

export async function runIdleClients(ctx: BenchContext): Promise<ScenarioResult> {
  const requested = ctx.profile.idle.clients;
  // The proxy holds two sockets per client (client + backend) and cannot raise its fd limit.
  const limit = await fdLimit();
  const n = Math.min(requested, Math.floor((limit - FD_HEADROOM) / 2));
  const dd = await prepareDatadir(ctx.workDir, 'idle');
  const db = await startMariadb(dd, {
    init: true,
    extraArgs: [`--max-connections=${n + 200}`, '--thread-handling=pool-of-threads', '--table-open-cache=400'],
  });
  const stopDb = onCleanup(`idle mariadbd (pid ${db.pid})`, () => db.stop());
  const workers = await startWorkers('idle-worker.js', ctx.profile.idle.workers);
  const results: Measured[] = [];
  const notes: string[] = [];
  // With --baseline the other build holds the same clients right after this one, mode by mode.
  const builds: Array<{ suffix: string; hostScript: string | undefined }> = [{ suffix: '', hostScript: undefined }];
  if (ctx.baselineHost) builds.push({ suffix: ' (baseline)', hostScript: ctx.baselineHost });
  try {
    for (const build of builds) {
      if (build.hostScript && !ctx.baselineModes.includes('pipe')) continue;
      const proxyPort = await findFreePort();
      const label = `idle-proxy-pipe${build.hostScript ? '-baseline' : ''}`;
      const started = await startProxyProcess({
        command: 'proxy',
        args: ['--backend', `${db.host}:${db.port}`],
        port: proxyPort,
        label,
        logPath: join(ctx.outDir, 'logs', `${label}.log`),
        cpuProfDir: ctx.cpuProfDir,
        hostScript: build.hostScript,
      });
      if (!started.ok) throw new Error(`proxy did not start: ${started.reason}`);
      try {
        results.push(await hold(`proxy pipe${build.suffix}`, workers, proxyPort, dd.creds, n, () => started.proxy.memory()));
      } finally {
        await started.proxy.stop();
      }
    }
    for (const build of builds) {
      if (build.hostScript && !ctx.baselineModes.includes('transaction')) continue;
      results.push(await holdTransactionPooled(ctx, workers, n, build.suffix, build.hostScript));
    }
    const haproxy = await findHaproxy();
    if (haproxy) {
      // Only context, so a HAProxy that cannot hold N here (it reserves fds up front) is a note, not a failure.
      try {
        const h = await startHaproxy(haproxy, db, ctx.workDir, join(ctx.outDir, 'logs', 'idle-haproxy.log'), n + 10);
        try {
          results.push(await hold('HAProxy (TCP)', workers, h.port, dd.creds, n, async () => ({ rss: await rssBytes(h.pid) })));
        } finally {
          await h.stop();
        }
      } catch (err) {
        notes.push(`No HAProxy row: ${(err as Error).message}`);
      }
    } else notes.push('HAProxy not installed: no comparison row.');
  } finally {
    await workers.stop();
    await stopDb();
  }

  const perConn = (m: Measured, k: keyof MemorySample) =>
    m.before[k] !== undefined && m.after[k] !== undefined && m.held > 0 ? (m.after[k]! - m.before[k]!) / m.held : NaN;
  const rows = results.map((m) => [
    m.label,
    `${m.held.toLocaleString('en-US')}${m.errors ? ` (${m.errors} failed)` : ''}`,
    fmt(m.before.rss / 2 ** 20),
    fmt(m.after.rss / 2 ** 20),
    fmt(perConn(m, 'rss') / 1024),
    fmt(perConn(m, 'heapUsed') / 1024),
    fmt(perConn(m, 'external') / 1024),
  ]);
  const targets: TargetCheck[] = ['proxy pipe', 'proxy transaction'].map((label) => {
    const m = results.find((r) => r.label === label);
    const kb = m ? perConn(m, 'rss') / 1024 : NaN;
    return {
      name: `idle clients: ${label} memory per held connection (N=${n.toLocaleString('en-US')})`,
      target: '< 10 KB',
      measured: `${fmt(kb)} KB`,
      met: Number.isFinite(kb) ? kb < 10 : null,
    };
  });
  if (n < requested) {
    notes.push(`Asked for ${requested.toLocaleString('en-US')} connections; held ${n.toLocaleString('en-US')}: the open-files limit here is ${limit} and cannot be raised (no CAP_SYS_RESOURCE), and the proxy needs 2 descriptors per client.`);
  }
  return {
    id: ID,
    title: `5. Idle clients: memory holding ${n.toLocaleString('en-US')} idle connections`,
    tables: [{ title: '', columns: ['holder', 'connections', 'RSS before MiB', 'RSS holding MiB', 'RSS KB / conn', 'JS heap KB / conn', 'external KB / conn'], rows }],
    charts: [],
    targets,
    notes: [
      `Method: backend is a dedicated mariadbd (max_connections ${n + 200}, thread pool). "before" is after ${WARMUP_CONNECTIONS} warm-up connections were opened and closed; both readings follow a full GC inside the proxy (node --expose-gc) and a 1 s pause in which V8 returns the pages it freed. Each connection is authenticated and has run SELECT 1: through its own backend connection in pipe mode; in transaction mode through a pooled one it gave back (the compute is a control plane's, via \`proxy --control-url --pool-mode transaction\`).`,
      'HAProxy figures are its process RSS from /proc (no heap to report).',
      ...results.filter((m) => m.firstError).map((m) => `${m.label}: first error: ${m.firstError}`),
      ...notes,
    ],
    data: { requested, held: n, fdLimit: limit, results },
  };
}

/**
 * The same clients through `proxy --pool-mode transaction` in front of a control
 * plane of its own: logged in, SELECT 1 run, then idle without a compute connection.
 */
async function holdTransactionPooled(
  ctx: BenchContext,
  workers: WorkerGroup,
  n: number,
  suffix: string,
  hostScript: string | undefined,
): Promise<Measured> {
  const tag = hostScript ? '-baseline' : '';
  const stack = await startWakeStack(ctx, { name: `idle-tx${tag}`, args: ['--idle-timeout', '0', '--wake-timeout', '60s'] });
  const project = await stack.createProject('idle');
  const started = await startPooledProxy(ctx, `idle-proxy-transaction${tag}`, stack.controlUrl, 'transaction', hostScript);
  if (!started.ok) throw new Error(`transaction proxy did not start: ${started.reason}`);
  try {
    return await hold(`proxy transaction${suffix}`, workers, started.proxy.port, { user: project.user, password: project.password }, n, () => started.proxy.memory());
  } finally {
    await started.proxy.stop();
  }
}

async function hold(label: string, group: WorkerGroup, port: number, creds: Credentials, n: number, memory: () => Promise<Measured['before']>): Promise<Measured> {
  const openAll = async (count: number): Promise<Held[]> => {
    const shares = split(count, group.workers.length);
    group.workers.forEach((w, i) => w.send({ type: 'open', host: '127.0.0.1', port, ...creds, count: shares[i]!, inFlight: 32 }));
    return Promise.all(group.workers.map((w) => w.next<Held>('held', 300_000)));
  };
  const releaseAll = async () => {
    group.workers.forEach((w) => w.send({ type: 'release' }));
    await Promise.all(group.workers.map((w) => w.next('released', 120_000)));
  };
  await openAll(WARMUP_CONNECTIONS);
  await releaseAll();
  await new Promise((r) => setTimeout(r, 500));
  const before = await memory();
  say(`${ID}: ${label}: opening ${n.toLocaleString('en-US')} connections`);
  const held = await openAll(n);
  await new Promise((r) => setTimeout(r, 1_000));
  const after = await memory();
  const opened = held.reduce((s, h) => s + h.opened, 0);
  say(`${ID}: ${label}: holding ${opened}, RSS ${fmt(before.rss / 2 ** 20)} -> ${fmt(after.rss / 2 ** 20)} MiB`);
  await releaseAll();
  return { label, held: opened, errors: held.reduce((s, h) => s + h.errors, 0), firstError: held.find((h) => h.firstError)?.firstError, before, after };
}
