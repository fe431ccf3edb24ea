// Scenario 8: noisy neighbours. Two projects of 0.5 CU each on one machine.
// The victim runs point selects through the proxy at a steady pace its size
// carries; its neighbour alternates, second by second, between idle and
// saturated (CPU-bound statements on as many connections as it likes). Each
// victim query counts for the neighbour's phase when it was sent, so whatever
// else loads the machine meanwhile falls on both sides alike. Wanted, with
// cgroups: the victim's p99 beside a saturated neighbour within 2x of its p99
// beside an idle one. The full run repeats it with --cgroups off for contrast.
import mysql from 'mysql2/promise';
import { openCgroups } from '../../control-plane/drivers/cgroups.js';
import { Histogram } from '../histogram.js';
import { BENCH_DATABASE } from '../mariadb.js';
import { prepareTableWithMysql2 } from '../mysql2-load.js';
import { sleep } from '../processes.js';
import { cdfChart } from '../report/svg-charts.js';
import { fmt, fmtRatio, say, type BenchContext, type ScenarioResult, type Table, type TargetCheck } from '../scenario.js';
import { startWakeStack } from '../wake-stack.js';

const ID = 'noisy-neighbour';
const SIZE = { minCu: 0.5, maxCu: 0.5 };
const MAX_RATIO = 2;
/** Queries sent this soon after the neighbour switched are left out: they straddle both phases. */
const SETTLE_MS = 150;

interface Login {
  host: string;
  port: number;
  user: string;
  password: string;
}

interface Measured {
  limits: boolean;
  idle: Histogram;
  busy: Histogram;
  /** p99 busy / p99 idle of each pair of phases, for the spread. */
  pairRatios: number[];
}

export async function runNoisyNeighbour(ctx: BenchContext): Promise<ScenarioResult> {
  const probe = await openCgroups('bench-probe');
  const noCgroups = 'unavailable' in probe ? probe.unavailable : undefined;
  if (!('unavailable' in probe)) await probe.close();
  const p = ctx.profile.neighbours;
  const settings = noCgroups || !p.contrast ? [true] : [true, false];
  const results: Measured[] = [];
  for (const limits of settings) results.push(await measure(ctx, limits));

  const ratio = (m: Measured) => m.busy.quantile(0.99) / m.idle.quantile(0.99);
  const withLimits = results[0]!;
  const target: TargetCheck = {
    name: 'victim p99 beside a saturated neighbour vs beside an idle one (cgroups)',
    target: `<= ${MAX_RATIO}x`,
    measured: noCgroups ? `not measured: ${noCgroups}` : fmtRatio(ratio(withLimits)),
    met: noCgroups ? null : ratio(withLimits) <= MAX_RATIO,
  };
  const table: Table = {
    title: '',
    columns: ['limits', 'neighbour', 'victim queries', 'victim p50 ms', 'victim p99 ms', 'p99 vs idle neighbour', 'per pair of phases (min, median, max)'],
    rows: results.flatMap((m) => {
      const sorted = [...m.pairRatios].sort((a, b) => a - b);
      const spread = sorted.length ? `${fmtRatio(sorted[0]!)}, ${fmtRatio(sorted[Math.floor(sorted.length / 2)]!)}, ${fmtRatio(sorted.at(-1)!)}` : '-';
      return [
        [m.limits ? 'cgroups' : 'none', 'idle', String(m.idle.count), fmt(m.idle.quantile(0.5)), fmt(m.idle.quantile(0.99)), '-', '-'],
        [m.limits ? 'cgroups' : 'none', 'saturated', String(m.busy.count), fmt(m.busy.quantile(0.5)), fmt(m.busy.quantile(0.99)), fmtRatio(ratio(m)), spread],
      ];
    }),
  };
  return {
    id: ID,
    title: '8. Noisy neighbours: one project saturated, the other\'s latency',
    tables: [table],
    charts: [
      {
        file: `${ID}-latency.svg`,
        svg: cdfChart(
          'Victim point-select latency, neighbour idle vs saturated',
          results.flatMap((m) => [
            { label: `${m.limits ? 'cgroups' : 'no limits'}, idle`, points: m.idle.cdf() },
            { label: `${m.limits ? 'cgroups' : 'no limits'}, saturated`, points: m.busy.cdf() },
          ]),
        ),
      },
    ],
    targets: [target],
    notes: [
      `Two projects of ${SIZE.minCu} CU each (min = max, no autoscaling) on one \`wake-proxy dev\`. Victim: point selects (${p.tableSize} rows) through the proxy from one mysql2 connection at a steady ${p.victimRate} per second, a load its size carries with room to spare, for ${p.seconds} s; a query that would start late starts at once and its lateness is not counted.`,
      `Neighbour: idle and saturated by turns, ${p.phaseMs} ms each; saturated is ${p.burners} connections each running SELECT BENCHMARK(...) (CPU-bound, no network traffic) straight on its compute. A victim query counts for the phase it was sent in; those sent within ${SETTLE_MS} ms of a switch are left out.`,
      noCgroups
        ? `No cgroups here (${noCgroups}): both computes run unlimited, so this is no isolation measurement.`
        : 'The proxy and the bench process are not limited: they share what the computes leave of the machine, as does everything else running on it.',
    ],
    data: results.map((m) => ({ limits: m.limits, idle: m.idle.toJSON(), busy: m.busy.toJSON(), pairRatios: m.pairRatios })),
  };
}

async function measure(ctx: BenchContext, limits: boolean): Promise<Measured> {
  const p = ctx.profile.neighbours;
  const stack = await startWakeStack(ctx, {
    name: limits ? 'neighbours' : 'neighbours-unlimited',
    args: ['--idle-timeout', '0', '--autoscale-interval', '0', '--wake-timeout', '60s', ...(limits ? [] : ['--cgroups', 'off'])],
  });
  const victim = await stack.createProject('victim', SIZE);
  const noisy = await stack.createProject('noisy', SIZE);
  const direct = async (pr: typeof victim): Promise<Login> => ({ ...(await stack.address(pr.computeId)), user: pr.ownerUser, password: pr.password });
  const victimDirect = await direct(victim);
  const setup = await mysql.createConnection(victimDirect);
  await setup.query(`CREATE DATABASE IF NOT EXISTS ${BENCH_DATABASE}`);
  await setup.end();
  await prepareTableWithMysql2(victimDirect, p.tableSize);
  const neighbour = await Neighbour.open(await direct(noisy), p.burners);
  const conn = await mysql.createConnection({ host: '127.0.0.1', port: stack.proxyPort, user: victim.user, password: victim.password, database: BENCH_DATABASE });

  // Phases of the neighbour, switched on a schedule; each entry: [start ms, busy].
  const phases: Array<[number, boolean]> = [];
  const began = performance.now();
  let switching = true;
  const switcher = (async () => {
    for (let i = 0; switching; i++) {
      const busy = i % 2 === 1;
      if (busy) neighbour.saturate();
      else await neighbour.quiet();
      phases.push([performance.now(), busy]);
      const next = began + (i + 1) * p.phaseMs;
      await sleep(Math.max(0, next - performance.now()));
    }
    await neighbour.quiet();
  })();

  const samples: Array<[number, number]> = [];
  const interval = 1000 / p.victimRate;
  for (let n = 0; performance.now() - began < p.seconds * 1000; n++) {
    const wait = began + n * interval - performance.now();
    if (wait > 0) await sleep(wait);
    const t = performance.now();
    await conn.query('SELECT c FROM sbtest1 WHERE id = ?', [1 + Math.floor(Math.random() * p.tableSize)]);
    samples.push([t, performance.now() - t]);
  }
  switching = false;
  await switcher;
  await conn.end();
  await neighbour.close();

  const m: Measured = { limits, idle: new Histogram(), busy: new Histogram(), pairRatios: [] };
  const perPhase = phases.map(() => new Histogram());
  // Samples and phases are both in time order: walk them together.
  let i = -1;
  for (const [t, ms] of samples) {
    while (i + 1 < phases.length && phases[i + 1]![0] <= t) i++;
    if (i < 0 || t - phases[i]![0] < SETTLE_MS) continue;
    (phases[i]![1] ? m.busy : m.idle).record(ms);
    perPhase[i]!.record(ms);
  }
  for (let i = 0; i + 1 < phases.length; i += 2) {
    const [idle, busy] = [perPhase[i]!, perPhase[i + 1]!];
    if (idle.count > 0 && busy.count > 0) m.pairRatios.push(busy.quantile(0.99) / idle.quantile(0.99));
  }
  say(`${ID}: ${limits ? 'cgroups' : 'no limits'}: victim p99 ${fmt(m.idle.quantile(0.99))} ms beside an idle neighbour, ${fmt(m.busy.quantile(0.99))} ms beside a saturated one`);
  return m;
}

/** The noisy project: its connections run CPU-bound statements, or nothing. */
class Neighbour {
  private running: Array<Promise<unknown>> = [];

  private constructor(
    private readonly conns: mysql.Connection[],
    private readonly killer: mysql.Connection,
  ) {}

  static async open(login: Login, n: number): Promise<Neighbour> {
    const conns = await Promise.all(Array.from({ length: n }, () => mysql.createConnection(login)));
    return new Neighbour(conns, await mysql.createConnection(login));
  }

  saturate(): void {
    this.running = this.conns.map((c) => c.query('SELECT BENCHMARK(100000000000, MD5(RAND()))').catch(() => undefined));
  }

  /**
   * Stops the statements. A KILL QUERY that reaches the server before the
   * statement started (a starved machine can take that long) stops nothing,
   * so it is repeated until every statement has ended.
   */
  async quiet(): Promise<void> {
    if (this.running.length === 0) return;
    const ended = Promise.all(this.running).then(() => true);
    for (let tries = 1; ; tries++) {
      for (const c of this.conns) await this.killer.query(`KILL QUERY ${c.threadId}`).catch(() => undefined);
      if (await Promise.race([ended, sleep(250).then(() => false)])) break;
      if (tries === 40) throw new Error('the neighbour\'s statements did not stop within 10 s of KILL QUERY');
    }
    this.running = [];
  }

  async close(): Promise<void> {
    await this.quiet();
    await Promise.all([this.killer, ...this.conns].map((c) => c.end().catch(() => undefined)));
  }
}
