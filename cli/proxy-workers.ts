// `wake-proxy proxy --workers n` (n > 1): the primary. It forks n workers with
// node:cluster, each a whole proxy that accepts on the one listening port itself
// (SCHED_NONE: the kernel hands each connection to one worker's accept, nothing
// passes through the primary), and serves admin HTTP for all of them. It accepts
// no MySQL client.
//
// Each worker is one more proxy sharing Redis with the others (session ids, KILL,
// failed-password counts, activity) and takes its share of the limits
// (worker-options.ts). The primary watches them: a worker that dies is replaced,
// unless workers keep dying; a worker that fails to start stops everything.
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { ScrapeUnavailable, startAdminServer, type AdminServer } from '../proxy/admin-http.js';
import { onShutdown } from './lifecycle.js';
import { parseToPrimary } from './worker-channel.js';
import { WorkerMetrics } from './worker-metrics.js';

export interface PrimaryValues {
  workers: number;
  'admin-host': string;
  'admin-port': number;
  'drain-timeout': number;
  'tls-cert'?: string;
}

/** More deaths than this within DEATH_WINDOW_MS and the primary gives up. */
const MAX_DEATHS = 5;
const DEATH_WINDOW_MS = 60_000;
/** How long past --drain-timeout the primary waits for its workers before it kills them. */
const EXIT_GRACE_MS = 10_000;

interface WorkerState {
  readonly worker: Worker;
  readonly pid: number;
  listening: boolean;
  ready: boolean;
}

export async function runProxyWorkers(values: PrimaryValues, logger: Logger): Promise<void> {
  const n = values.workers;
  const log = logger.child({ component: 'workers' });
  // Before the first fork: each worker accepts on the shared socket itself.
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  const states = new Map<number, WorkerState>();
  const metrics = new WorkerMetrics();
  const deaths: number[] = [];
  let stopping: Promise<void> | undefined;
  let failStart: ((err: Error) => void) | undefined;

  const fork = (): WorkerState => {
    const worker = cluster.fork();
    const state: WorkerState = { worker, pid: worker.process.pid ?? -1, listening: false, ready: false };
    states.set(worker.id, state);
    return state;
  };
  const live = () => [...states.values()];

  cluster.on('message', (worker: Worker, raw: unknown) => {
    const m = parseToPrimary(raw);
    const state = states.get(worker.id);
    if (!m || !state) return;
    if (m.type === 'wake-proxy:listening') {
      state.listening = true;
      if (live().length === n && live().every((s) => s.listening)) allListening?.(m.port);
    } else if (m.type === 'wake-proxy:ready') state.ready = m.ready;
    else if (m.type === 'wake-proxy:metrics') metrics.answered(worker, m.id, m.metrics);
    else metrics.failed(worker, m.id, m.error);
  });

  cluster.on('exit', (worker: Worker, code: number | null, signal: string | null) => {
    const state = states.get(worker.id);
    states.delete(worker.id);
    if (!state || stopping) return;
    if (!state.listening) {
      // A worker that cannot start (port in use, bad configuration) would fail again: never restarted.
      const err = new Error(`worker ${state.pid} exited (${signal ?? `code ${code}`}) before it was listening; its error is above`);
      if (failStart) return failStart(err);
      log.error({ pid: state.pid, code, signal }, 'replacement worker exited before it was listening: stopping the rest');
      void giveUp();
      return;
    }
    log.error({ pid: state.pid, code, signal }, 'worker died');
    const now = Date.now();
    deaths.push(now);
    while (deaths[0]! < now - DEATH_WINDOW_MS) deaths.shift();
    if (deaths.length > MAX_DEATHS) {
      log.error({ deaths: deaths.length, windowS: DEATH_WINDOW_MS / 1000 }, `more than ${MAX_DEATHS} workers died within a minute: stopping the rest`);
      void giveUp();
      return;
    }
    const next = fork();
    log.info({ pid: next.pid, replaces: state.pid }, 'worker replaced');
  });

  /** Signals every worker (as Ctrl-C does) and waits for all to exit; rejects when one exits badly or too late. */
  const stop = (): Promise<void> => (stopping ??= stopWorkers(live(), values['drain-timeout'] + EXIT_GRACE_MS, log));
  const giveUp = async () => {
    await stop().catch((err: unknown) => log.error({ err }, 'stopping the workers failed'));
    await admin?.close();
    process.exit(1);
  };

  let allListening: ((port: number) => void) | undefined;
  const started = new Promise<number>((resolve, reject) => {
    allListening = resolve;
    failStart = reject;
  });
  for (let i = 0; i < n; i++) fork();
  let port: number;
  try {
    port = await started;
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  } finally {
    allListening = undefined;
    failStart = undefined;
  }

  let admin: AdminServer | undefined;
  try {
    admin = await startAdminServer({
      host: values['admin-host'],
      port: values['admin-port'],
      scrape: () => {
        const serving = live().filter((s) => s.listening);
        if (serving.length < n) return Promise.reject(new ScrapeUnavailable(`metrics unavailable: ${serving.length} of ${n} workers listening`));
        return metrics.scrape(serving.map((s) => s.worker));
      },
      ready: () => !stopping && live().length === n && live().every((s) => s.listening && s.ready),
      health: () => ({ workers: { alive: live().length, expected: n } }),
      logger: log,
    });
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
  log.info({ port: admin.port }, 'admin HTTP listening');
  log.info({ port, workers: n, pids: live().map((s) => s.pid) }, 'proxy workers listening');
  if (values['tls-cert']) process.on('SIGHUP', () => live().forEach((s) => s.worker.process.kill('SIGHUP')));
  onShutdown(
    log,
    async () => {
      await stop();
      await admin?.close();
    },
    () => live().forEach((s) => s.worker.process.kill('SIGKILL')),
  );
}

/** SIGTERM to each worker; resolves when all exited cleanly, rejects when one did not or `boundMs` passed (then kills the rest). */
function stopWorkers(workers: WorkerState[], boundMs: number, log: Logger): Promise<void> {
  const exits = workers.map(
    (s) =>
      new Promise<string | undefined>((resolve) => {
        const w = s.worker;
        if (w.process.exitCode !== null || w.process.signalCode !== null) return resolve(exitProblem(s, w.process.exitCode, w.process.signalCode));
        w.once('exit', (code: number | null, signal: string | null) => resolve(exitProblem(s, code, signal)));
        w.process.kill('SIGTERM');
      }),
  );
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<string[]>((resolve) => {
    timer = setTimeout(() => {
      const left = workers.filter((s) => s.worker.process.exitCode === null && s.worker.process.signalCode === null);
      for (const s of left) s.worker.process.kill('SIGKILL');
      resolve([`worker ${left.map((s) => s.pid).join(', ')} still running ${boundMs} ms after SIGTERM: killed`]);
    }, boundMs);
  });
  return Promise.race([Promise.all(exits), late]).then((results) => {
    clearTimeout(timer);
    const problems = results.filter((p): p is string => p !== undefined);
    log.info({ workers: workers.length, problems: problems.length }, 'workers stopped');
    if (problems.length > 0) throw new Error(problems.join('; '));
  });
}

/** Why a worker's exit during shutdown was not clean; undefined when it was (0, or the signal it was sent). */
function exitProblem(s: WorkerState, code: number | null, signal: string | null): string | undefined {
  if (code === 0 || signal === 'SIGTERM' || signal === 'SIGINT') return undefined;
  return `worker ${s.pid} exited with ${signal ?? `code ${code}`}`;
}
