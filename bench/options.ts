// Command-line flags of `npm run bench` and the two run sizes. Quick has to
// finish in about 5 minutes on 2 cores; full trades time for tighter numbers.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

export const SCENARIO_IDS = ['point-select', 'cold-wake', 'storm', 'churn', 'idle', 'tls', 'autoscale', 'noisy-neighbour', 'idle-pool', 'read-write'] as const;
export type ScenarioId = (typeof SCENARIO_IDS)[number];

export interface BenchProfile {
  name: 'quick' | 'full';
  /** Rounds per scenario; each round runs every contender once, in rotated order. */
  rounds: number;
  pointSelect: { threads: number[]; seconds: number; warmupSeconds: number; tableSize: number };
  coldWake: { runs: number };
  storm: { clients: number; workers: number };
  /** threads[0] is the loaded machine the goals are judged on; 1 thread is what one client connecting per request waits. */
  churn: { threads: number[]; seconds: number; warmupSeconds: number; workers: number };
  /** Client TLS vs plain through one proxy: connect loops and point selects (table size from pointSelect). */
  tls: { connectThreads: number[]; selectThreads: number[]; seconds: number; warmupSeconds: number; workers: number };
  idle: { clients: number; workers: number };
  /** The load ramp on one autoscaled project: sysbench threads per step, and how long each part lasts. */
  autoscale: {
    threads: number[];
    stepSeconds: number;
    leadSeconds: number;
    downAfterSeconds: number;
    idleTimeoutSeconds: number;
    /** Bound on waiting for the compute to shrink and sleep after the load. */
    maxIdleSeconds: number;
    tableSize: number;
  };
  /** Victim latency beside a neighbour idle and saturated by turns (phaseMs each); `contrast` repeats it without cgroups. */
  neighbours: { seconds: number; phaseMs: number; victimRate: number; burners: number; tableSize: number; contrast: boolean };
  /** Application pools in transaction mode: clients per driver, how long they run a statement per period, then idle until the compute sleeps. */
  idlePool: { clientsPerDriver: number; loginsInFlight: number; runSeconds: number; periodMs: number; idleTimeoutSeconds: number; maxIdleSeconds: number };
  /** sysbench oltp_read_write through pipe and transaction mode: rounds of its own (a ratio wants at least 3), tables of a database of its own. */
  readWrite: { threads: number[]; seconds: number; warmupSeconds: number; rounds: number; tables: number; tableSize: number };
}

export interface BenchOptions {
  profile: BenchProfile;
  scenarios: ScenarioId[];
  /** Run each proxy with --cpu-prof and keep the profiles next to the results. */
  cpuProf: boolean;
  outDir: string | undefined;
  /** Another build's dist/ directory: its proxy runs beside this one as a "(baseline)" contender. */
  baseline: string | undefined;
  /** Which pool modes the baseline build runs in. */
  baselineModes: BaselineMode[];
  /** Extra Node/V8 flags for this build's proxies only: with --baseline of the same dist/, an A/B of the flags. */
  nodeFlags: string[];
  /** With --workers n: this build's proxy also runs as n processes on one port, in every pool mode. */
  proxyWorkers: number | undefined;
  /** --pin: contenders on a CPU of their own, the rest on the others (placement.ts). */
  pin: boolean;
}

export const BASELINE_MODES = ['pipe', 'session', 'transaction'] as const;
export type BaselineMode = (typeof BASELINE_MODES)[number];

const QUICK: BenchProfile = {
  name: 'quick',
  rounds: 2,
  pointSelect: { threads: [1, 8, 32], seconds: 2, warmupSeconds: 1, tableSize: 10_000 },
  coldWake: { runs: 5 },
  storm: { clients: 200, workers: 2 },
  // Connect paths need longer than a second before the proxy's JIT settles.
  churn: { threads: [8, 1], seconds: 3, warmupSeconds: 2, workers: 2 },
  tls: { connectThreads: [1], selectThreads: [8], seconds: 2, warmupSeconds: 2, workers: 2 },
  idle: { clients: 2_000, workers: 2 },
  // Going down can take two waits (a goal from the load's last seconds may hold the first one up): idle > 2 x down.
  autoscale: { threads: [1, 4, 16], stepSeconds: 15, leadSeconds: 4, downAfterSeconds: 15, idleTimeoutSeconds: 45, maxIdleSeconds: 80, tableSize: 10_000 },
  neighbours: { seconds: 20, phaseMs: 1_000, victimRate: 500, burners: 4, tableSize: 10_000, contrast: false },
  idlePool: { clientsPerDriver: 100, loginsInFlight: 20, runSeconds: 20, periodMs: 1_000, idleTimeoutSeconds: 5, maxIdleSeconds: 60 },
  readWrite: { threads: [8], seconds: 10, warmupSeconds: 3, rounds: 3, tables: 4, tableSize: 10_000 },
};

const FULL: BenchProfile = {
  name: 'full',
  rounds: 3,
  pointSelect: { threads: [1, 8, 32], seconds: 10, warmupSeconds: 2, tableSize: 10_000 },
  coldWake: { runs: 7 },
  storm: { clients: 500, workers: 4 },
  churn: { threads: [8, 1], seconds: 10, warmupSeconds: 3, workers: 2 },
  tls: { connectThreads: [1, 8], selectThreads: [1, 8], seconds: 10, warmupSeconds: 3, workers: 2 },
  idle: { clients: 10_000, workers: 4 },
  autoscale: { threads: [1, 4, 16], stepSeconds: 30, leadSeconds: 6, downAfterSeconds: 60, idleTimeoutSeconds: 180, maxIdleSeconds: 300, tableSize: 10_000 },
  neighbours: { seconds: 40, phaseMs: 1_000, victimRate: 500, burners: 4, tableSize: 10_000, contrast: true },
  idlePool: { clientsPerDriver: 100, loginsInFlight: 20, runSeconds: 60, periodMs: 1_000, idleTimeoutSeconds: 10, maxIdleSeconds: 90 },
  readWrite: { threads: [1, 8, 32], seconds: 20, warmupSeconds: 5, rounds: 5, tables: 4, tableSize: 10_000 },
};

export const USAGE = `Usage: npm run bench -- [options]

  --quick               small sizes and short runs (about 5 minutes on 2 cores)
  --only <a,b,...>      run only these scenarios: ${SCENARIO_IDS.join(', ')}
  --storm-clients <n>   clients in the storm scenario (default 500, quick 200)
  --idle-clients <n>    idle connections to hold (default 10000, quick 2000)
  --rounds <n>          rounds of alternated contenders (default 3, quick 2; read-write 5, quick 3)
  --cpu-prof            profile every proxy process (node --cpu-prof), kept with the results
  --out <dir>           where results go (default bench/results/<timestamp>)
  --baseline <dist>     another build's dist/ (e.g. of the commit before a change): its proxy
                        runs as an extra "(baseline)" contender in each pool mode
                        (point-select, churn, read-write; idle: pipe and transaction), so
                        before and after alternate in one run
  --baseline-modes <m>  pipe, session, transaction, comma-separated (default all three):
                        the pooled modes need a baseline that speaks this build's control API
  --node-flags=<f>      extra Node/V8 flags for this build's proxy processes, space-separated
                        (e.g. --node-flags="--max-semi-space-size=64": with '=', as they start
                        with dashes); the baseline's run without them, so --baseline <this
                        dist/> compares the flags alone
  --workers <n>         this build's proxy also runs with --workers <n> (n processes on one
                        port, sharing a redis-server the bench starts) in each pool mode, as
                        extra "(n workers)" contenders; their CPU is all n processes'
  --pin                 the contenders of point-select, churn and read-write (HAProxy, the
                        relays, the proxies) on the last CPU, and the bench, sysbench, the
                        compute and the control plane on the others: a proxy host apart from
                        the computes' (needs 2 CPUs and taskset; not with --workers)
  --help`;

export function parseBenchOptions(argv: string[]): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      'storm-clients': { type: 'string' },
      'idle-clients': { type: 'string' },
      rounds: { type: 'string' },
      'cpu-prof': { type: 'boolean', default: false },
      out: { type: 'string' },
      baseline: { type: 'string' },
      'baseline-modes': { type: 'string' },
      'node-flags': { type: 'string' },
      workers: { type: 'string' },
      pin: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return 'help';
  const base = values.quick ? QUICK : FULL;
  const profile: BenchProfile = structuredClone(base);
  if (values['storm-clients'] !== undefined) profile.storm.clients = positive('--storm-clients', values['storm-clients']);
  if (values['idle-clients'] !== undefined) profile.idle.clients = positive('--idle-clients', values['idle-clients']);
  if (values.rounds !== undefined) profile.rounds = profile.readWrite.rounds = positive('--rounds', values.rounds);
  let scenarios: ScenarioId[] = [...SCENARIO_IDS];
  if (values.only !== undefined) {
    const wanted = values.only.split(',').map((s) => s.trim());
    const unknown = wanted.filter((w) => !(SCENARIO_IDS as readonly string[]).includes(w));
    if (unknown.length > 0) throw new Error(`--only: unknown scenario(s) ${unknown.join(', ')}; known: ${SCENARIO_IDS.join(', ')}`);
    scenarios = SCENARIO_IDS.filter((id) => wanted.includes(id));
  }
  return {
    profile,
    scenarios,
    cpuProf: values['cpu-prof'],
    outDir: values.out,
    baseline: baselineHost(values.baseline),
    baselineModes: baselineModes(values['baseline-modes']),
    nodeFlags: values['node-flags']?.split(/\s+/).filter((f) => f !== '') ?? [],
    proxyWorkers: values.workers === undefined ? undefined : workerCount(values.workers),
    pin: pinWithout(values.pin, values.workers),
  };
}

/** The baseline build's proxy host script, checked to exist. */
function baselineHost(dist: string | undefined): string | undefined {
  if (dist === undefined) return undefined;
  const host = resolve(dist, 'bench', 'proxy-host.js');
  if (!existsSync(host)) throw new Error(`--baseline: ${host} does not exist (give a built dist/ directory)`);
  return host;
}

function baselineModes(raw: string | undefined): BaselineMode[] {
  if (raw === undefined) return [...BASELINE_MODES];
  const wanted = raw.split(',').map((s) => s.trim());
  const unknown = wanted.filter((w) => !(BASELINE_MODES as readonly string[]).includes(w));
  if (unknown.length > 0) throw new Error(`--baseline-modes: unknown mode(s) ${unknown.join(', ')}; known: ${BASELINE_MODES.join(', ')}`);
  return BASELINE_MODES.filter((m) => wanted.includes(m));
}

/** A proxy's workers are forked before it listens, out of reach of the contender's placement. */
function pinWithout(pin: boolean, workers: string | undefined): boolean {
  if (pin && workers !== undefined) throw new Error('--pin places one process per contender: not with --workers');
  return pin;
}

function workerCount(raw: string): number {
  const n = positive('--workers', raw);
  if (n < 2 || n > 64) throw new Error(`--workers: expected 2-64 processes, got ${n}`);
  return n;
}

function positive(flag: string, raw: string): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1 || n > 100_000) throw new Error(`${flag}: expected a whole number 1-100000, got '${raw}'`);
  return n;
}
