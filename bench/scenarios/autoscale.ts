// Scenario 7: a load ramp on one autoscaled project. sysbench point selects
// through the proxy at 1, 4 and 16 threads, then nothing, on a project whose
// range (0.25-1 CU) fits a 2-core machine the proxy and the load generator
// share. Its size is read from the control API twice a second. Wanted: up
// within 15 s of each step (where a larger size is left), down to the minimum
// within a few minutes of idle, then asleep; a chart of size and throughput
// over time.
import mysql from 'mysql2/promise';
import { BENCH_DATABASE } from '../mariadb.js';
import { sleep } from '../processes.js';
import { timeChart } from '../report/time-chart.js';
import { fmt, say, type BenchContext, type ScenarioResult, type TargetCheck } from '../scenario.js';
import { findSysbench, prepareSysbench, runSysbench } from '../sysbench.js';
import { startWakeStack, type WakeStack } from '../wake-stack.js';

const ID = 'autoscale';
const RANGE = { minCu: 0.25, maxCu: 1 };
const UP_WITHIN_S = 15;

interface SizeSample {
  t: number;
  cu: number;
  state: string;
}

interface Step {
  threads: number;
  from: number;
  to: number;
  qps: number;
  p99Ms: number;
  cuAtStart: number;
  cuAtEnd: number;
  /** Seconds from the step's start to its first growth; null when it did not grow. */
  upAfter: number | null;
}

/** The stack the ramp runs on: the autoscaler samples every 2 s; idleness is short so the run ends asleep. */
export function startAutoscaleStack(ctx: BenchContext): Promise<WakeStack> {
  const a = ctx.profile.autoscale;
  return startWakeStack(ctx, {
    name: 'autoscale',
    args: [
      '--autoscale-interval', '2s',
      '--scale-down-after', `${a.downAfterSeconds}s`,
      '--idle-timeout', `${a.idleTimeoutSeconds}s`,
      '--report-interval', '1s',
      '--cache-ttl', '1s',
      '--wake-timeout', '60s',
      // Every resize with its cause in the dev log.
      '--log-level', 'info',
    ],
  });
}

export async function runAutoscale(ctx: BenchContext, stack: WakeStack): Promise<ScenarioResult> {
  const a = ctx.profile.autoscale;
  const sysbench = await findSysbench();
  if (!sysbench) return notMeasured('sysbench is not installed: the ramp needs it');
  const project = await stack.createProject('ramp', RANGE);
  const direct = { ...(await stack.address(project.computeId)), user: project.ownerUser, password: project.password };
  const c = await mysql.createConnection({ ...direct, connectTimeout: 10_000 });
  await c.query(`CREATE DATABASE IF NOT EXISTS ${BENCH_DATABASE}`);
  await c.end();
  await prepareSysbench(sysbench, direct, a.tableSize);
  const viaProxy = { host: '127.0.0.1', port: stack.proxyPort, user: project.user, password: project.password };

  const t0 = Date.now();
  const now = () => (Date.now() - t0) / 1000;
  const sizes: SizeSample[] = [];
  let polling = true;
  const poller = (async () => {
    while (polling) {
      const info = await stack.compute(project.computeId).catch(() => undefined);
      if (info) sizes.push({ t: now(), cu: info.cu, state: info.state });
      await sleep(500);
    }
  })();
  const cuAt = (t: number) => sizes.filter((s) => s.t <= t).at(-1)?.cu ?? RANGE.minCu;

  await sleep(a.leadSeconds * 1000);
  const steps: Step[] = [];
  const throughput: Array<[number, number]> = [];
  for (const threads of a.threads) {
    const from = now();
    say(`${ID}: ${threads} thread(s) for ${a.stepSeconds} s at ${cuAt(from)} CU`);
    const run = await runSysbench(sysbench, viaProxy, { tableSize: a.tableSize, threads, seconds: a.stepSeconds, reportEverySecond: true });
    const to = now();
    for (const p of run.perSecond) throughput.push([from + p.second, p.qps]);
    const startCu = cuAt(from);
    const grew = sizes.find((s) => s.t >= from && s.t <= to && s.cu > startCu);
    steps.push({ threads, from, to, qps: run.qps, p99Ms: run.histogram.quantile(0.99), cuAtStart: startCu, cuAtEnd: cuAt(to), upAfter: grew ? grew.t - from : null });
  }
  const idleFrom = now();
  throughput.push([idleFrom, 0]);
  say(`${ID}: idle; waiting for the compute to shrink and sleep (at most ${a.maxIdleSeconds} s)`);
  while (now() - idleFrom < a.maxIdleSeconds && sizes.at(-1)?.state === 'active') await sleep(500);
  polling = false;
  await poller;
  const end = now();
  const downAt = sizes.find((s) => s.t >= idleFrom && s.cu === RANGE.minCu)?.t;
  const asleepAt = sizes.find((s) => s.t >= idleFrom && s.state !== 'active')?.t;

  const targets: TargetCheck[] = steps.map((s) => {
    const room = s.cuAtStart < RANGE.maxCu;
    return {
      name: `${s.threads} thread(s): up within ${UP_WITHIN_S} s of the step`,
      target: `<= ${UP_WITHIN_S} s`,
      measured: !room ? `already at ${RANGE.maxCu} CU (the maximum)` : s.upAfter === null ? `did not grow in ${fmt(s.to - s.from)} s` : `${fmt(s.upAfter)} s`,
      // At the maximum there is nothing to show; a step that needs no more is not a miss either.
      met: !room ? null : s.upAfter !== null && s.upAfter <= UP_WITHIN_S,
    };
  });
  targets.push(
    { name: 'down to the minimum after the load', target: '<= 300 s', measured: downAt === undefined ? 'not within the wait' : `${fmt(downAt - idleFrom)} s`, met: downAt !== undefined && downAt - idleFrom <= 300 },
    { name: 'asleep after the load', target: `idle timeout ${a.idleTimeoutSeconds} s + a few`, measured: asleepAt === undefined ? 'still awake' : `${fmt(asleepAt - idleFrom)} s`, met: asleepAt !== undefined },
  );
  const phases = [
    { from: 0, to: steps[0]?.from ?? 0, label: 'idle' },
    ...steps.map((s) => ({ from: s.from, to: s.to, label: `${s.threads} thr` })),
    { from: idleFrom, to: end, label: 'idle' },
  ];
  return {
    id: ID,
    title: '7. Autoscaling: a load ramp on one project (0.25-1 CU)',
    tables: [
      {
        title: '',
        columns: ['threads', 'qps', 'p99 ms', 'CU at start', 'CU at end', 'grew after'],
        rows: steps.map((s) => [String(s.threads), fmt(s.qps), fmt(s.p99Ms), String(s.cuAtStart), String(s.cuAtEnd), s.upAfter === null ? '-' : `${fmt(s.upAfter)} s`]),
      },
      {
        title: 'After the load',
        columns: ['down to the minimum after', 'asleep after', 'state at the end'],
        rows: [[downAt === undefined ? '-' : `${fmt(downAt - idleFrom)} s`, asleepAt === undefined ? '-' : `${fmt(asleepAt - idleFrom)} s`, sizes.at(-1)?.state ?? '?']],
      },
    ],
    charts: [
      {
        file: `${ID}-ramp.svg`,
        svg: timeChart({
          title: 'Autoscaling: compute size and throughput over time',
          xMax: end,
          left: { label: 'compute size (CU)', points: sizes.map((s) => [s.t, s.state === 'active' ? s.cu : 0]), max: RANGE.maxCu },
          right: { label: 'queries per second', points: throughput },
          phases,
        }),
      },
    ],
    targets,
    notes: [
      `sysbench oltp_point_select (${a.tableSize} rows) through the proxy (pipe mode) at ${a.threads.join(', ')} threads, ${a.stepSeconds} s each, after ${a.leadSeconds} s idle; the proxy, sysbench and the compute share the machine's cores.`,
      `The control plane samples every active compute every 2 s, shrinks a compute once its load asked for less for ${a.downAfterSeconds} s (--scale-down-after), and freezes it after ${a.idleTimeoutSeconds} s without clients (--idle-timeout). Size read from GET /api/v1/compute/{id} every 0.5 s; the chart draws 0 while it sleeps.`,
      'A step that starts at the maximum has nothing to show ("already at 1 CU") and counts as not measured. With cgroups the CPU a size gives is enforced; without them (said in the dev log) the compute uses what it finds and the sizes only bound the buffer pool and connections.',
    ],
    data: { steps, sizes, throughput, idleFrom, downAt, asleepAt },
  };
}

function notMeasured(why: string): ScenarioResult {
  return { id: ID, title: '7. Autoscaling: not measured', tables: [], charts: [], targets: [], notes: [why], data: { skipped: why } };
}
