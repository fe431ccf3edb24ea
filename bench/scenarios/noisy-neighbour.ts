// Scenario 8: noisy neighbours. Two projects of 0.5 CU each on one machine;
// the victim runs point selects through the proxy at a steady pace its size
// carries, while its neighbour is idle, then while its neighbour runs
// CPU-bound statements on as many connections as it likes, in alternating
// rounds. Wanted, with cgroups: the victim's p99 stays within 2x of its
// idle-neighbour figure. It is repeated with --cgroups off to show what the
// limits buy.
import mysql from 'mysql2/promise';
import { openCgroups } from '../../control-plane/drivers/cgroups.js';
import { Histogram, median } from '../histogram.js';
import { BENCH_DATABASE } from '../mariadb.js';
import { sleep } from '../processes.js';
import { cdfChart } from '../report/svg-charts.js';
import { fmt, fmtRatio, say, type BenchContext, type ScenarioResult, type Table, type TargetCheck } from '../scenario.js';
import { prepareTableWithMysql2 } from '../mysql2-load.js';
import { startWakeStack, type WakeStack } from '../wake-stack.js';

const ID = 'noisy-neighbour';
const SIZE = { minCu: 0.5, maxCu: 0.5 };
const MAX_RATIO = 2;

type Neighbour = 'idle' | 'busy';

interface Run {
  limits: boolean;
  round: number;
  neighbour: Neighbour;
  qps: number;
  p99Ms: number;
  histogram: Histogram;
}

export async function runNoisyNeighbour(ctx: BenchContext): Promise<ScenarioResult> {
  const probe = await openCgroups('bench-probe');
  const noCgroups = 'unavailable' in probe ? probe.unavailable : undefined;
  if (!('unavailable' in probe)) await probe.close();

  const runs: Run[] = [];
  const settings = noCgroups || !ctx.profile.neighbours.contrast ? [true] : [true, false];
  for (const limits of settings) runs.push(...(await measure(ctx, limits)));

  const summary = settings.map((limits) => {
    const of = (n: Neighbour) => runs.filter((r) => r.limits === limits && r.neighbour === n);
    const merged = (n: Neighbour) => Histogram.merge(of(n).map((r) => r.histogram));
    const ratios = of('busy').map((b) => b.p99Ms / (of('idle').find((i) => i.round === b.round)?.p99Ms ?? NaN));
    return { limits, idle: merged('idle'), busy: merged('busy'), ratio: median(ratios), ratios, qpsIdle: median(of('idle').map((r) => r.qps)), qpsBusy: median(of('busy').map((r) => r.qps)) };
  });
  const withLimits = summary[0]!;
  const target: TargetCheck = {
    name: 'victim p99 with a saturated neighbour vs an idle one (cgroups, median of paired rounds)',
    target: `<= ${MAX_RATIO}x`,
    measured: noCgroups ? `not measured: ${noCgroups}` : `${fmtRatio(withLimits.ratio)} (${withLimits.ratios.map(fmtRatio).join(', ')})`,
    met: noCgroups ? null : withLimits.ratio <= MAX_RATIO,
  };
  const table: Table = {
    title: '',
    columns: ['limits', 'neighbour', 'victim qps', 'victim p50 ms', 'victim p99 ms', 'p99 vs idle neighbour'],
    rows: summary.flatMap((s) => [
      [s.limits ? 'cgroups' : 'none', 'idle', fmt(s.qpsIdle), fmt(s.idle.quantile(0.5)), fmt(s.idle.quantile(0.99)), '-'],
      [s.limits ? 'cgroups' : 'none', 'saturated', fmt(s.qpsBusy), fmt(s.busy.quantile(0.5)), fmt(s.busy.quantile(0.99)), fmtRatio(s.ratio)],
    ]),
  };
  const p = ctx.profile.neighbours;
  return {
    id: ID,
    title: '8. Noisy neighbours: one project saturated, the other\'s latency',
    tables: [table],
    charts: [
      {
        file: `${ID}-latency.svg`,
        svg: cdfChart(
          'Victim point-select latency, neighbour idle vs saturated',
          summary.flatMap((s) => [
            { label: `${s.limits ? 'cgroups' : 'no limits'}, idle`, points: s.idle.cdf() },
            { label: `${s.limits ? 'cgroups' : 'no limits'}, saturated`, points: s.busy.cdf() },
          ]),
        ),
      },
    ],
    targets: [target],
    notes: [
      `Two projects of ${SIZE.minCu} CU each (min = max, no autoscaling) on one \`wake-proxy dev\`. Victim: point selects (sysbench's table, ${p.tableSize} rows) through the proxy from one mysql2 connection at a steady ${p.victimRate} per second, a load its size carries with room to spare (its latency is then its own, not its limit's), ${p.seconds} s per run; a query that would start late starts at once and its lateness is not counted. Neighbour: ${p.burners} connections each running SELECT BENCHMARK(...) (CPU-bound, no network traffic), straight to its compute.`,
      `${p.rounds} rounds, each measuring the victim with the neighbour idle and saturated (order alternating); the ratio is taken per round, then the median.`,
      noCgroups ? `No cgroups here (${noCgroups}): both computes run unlimited, so this is no isolation measurement.` : 'The proxy and sysbench are not limited: they share what the computes leave of the machine.',
    ],
    data: { runs: runs.map(({ histogram, ...r }) => ({ ...r, histogram: histogram.toJSON() })) },
  };
}

async function measure(ctx: BenchContext, limits: boolean): Promise<Run[]> {
  const p = ctx.profile.neighbours;
  const name = limits ? 'neighbours' : 'neighbours-unlimited';
  const stack: WakeStack = await startWakeStack(ctx, {
    name,
    args: ['--idle-timeout', '0', '--autoscale-interval', '0', '--wake-timeout', '60s', ...(limits ? [] : ['--cgroups', 'off'])],
  });
  const victim = await stack.createProject('victim', SIZE);
  const noisy = await stack.createProject('noisy', SIZE);
  const direct = async (pr: typeof victim) => ({ ...(await stack.address(pr.computeId)), user: pr.ownerUser, password: pr.password });
  const victimDirect = await direct(victim);
  const setup = await mysql.createConnection(victimDirect);
  await setup.query(`CREATE DATABASE IF NOT EXISTS ${BENCH_DATABASE}`);
  await setup.end();
  await prepareTableWithMysql2(victimDirect, p.tableSize);
  const viaProxy = { host: '127.0.0.1', port: stack.proxyPort, user: victim.user, password: victim.password };
  const noisyDirect = await direct(noisy);

  const runs: Run[] = [];
  for (let round = 0; round < p.rounds; round++) {
    const order: Neighbour[] = round % 2 === 0 ? ['idle', 'busy'] : ['busy', 'idle'];
    for (const neighbour of order) {
      const stop = neighbour === 'busy' ? await saturate(noisyDirect, p.burners) : async () => {};
      try {
        const r = await pacedPointSelects(viaProxy, p.victimRate, p.seconds, p.tableSize);
        const p99Ms = r.histogram.quantile(0.99);
        runs.push({ limits, round, neighbour, qps: r.qps, p99Ms, histogram: r.histogram });
        say(`${ID}: ${limits ? 'cgroups' : 'no limits'}, round ${round + 1}, neighbour ${neighbour}: ${fmt(r.qps)} qps, p99 ${fmt(p99Ms)} ms`);
      } finally {
        await stop();
      }
    }
  }
  return runs;
}

/** Point selects at a steady pace on one connection; each query's own latency, from send to answer. */
async function pacedPointSelects(login: Login, perSecond: number, seconds: number, rows: number): Promise<{ qps: number; histogram: Histogram }> {
  const conn = await mysql.createConnection({ ...login, database: BENCH_DATABASE });
  const histogram = new Histogram();
  const interval = 1000 / perSecond;
  const began = performance.now();
  let n = 0;
  try {
    while (performance.now() - began < seconds * 1000) {
      const due = began + n * interval;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      const t = performance.now();
      await conn.query('SELECT c FROM sbtest1 WHERE id = ?', [1 + Math.floor(Math.random() * rows)]);
      histogram.record(performance.now() - t);
      n++;
    }
  } finally {
    await conn.end();
  }
  return { qps: n / ((performance.now() - began) / 1000), histogram };
}

interface Login {
  host: string;
  port: number;
  user: string;
  password: string;
}

/** Keeps `n` CPU-bound statements running on the compute until the answer is called. */
async function saturate(login: Login, n: number): Promise<() => Promise<void>> {
  const conns = await Promise.all(Array.from({ length: n }, () => mysql.createConnection(login)));
  const running = conns.map((c) => c.query('SELECT BENCHMARK(100000000000, MD5(RAND()))').catch(() => undefined));
  await sleep(1_000); // let it take what it can before measuring
  return async () => {
    const killer = await mysql.createConnection(login);
    for (const c of conns) await killer.query(`KILL QUERY ${c.threadId}`).catch(() => undefined);
    await Promise.all(running);
    await Promise.all([killer, ...conns].map((c) => c.end().catch(() => undefined)));
  };
}
