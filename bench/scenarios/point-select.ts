// Scenario 1: point selects on persistent connections at 1 / 8 / 32 client
// threads, direct vs HAProxy vs the proxy in each pool mode, all on one
// compute. This is the steady-state cost of sitting in the path. In session
// mode each client holds its pooled backend for its lifetime, so this shows
// the relay cost of that mode; churn shows what pooling saves.
import { alternate, comparisonTable, histogramsOf, summarize, type Measure } from '../compare.js';
import { ensureBenchTable, type BenchTarget } from '../bench-target.js';
import { startContenders, type Contender } from '../contenders.js';
import { runMysql2Load } from '../mysql2-load.js';
import { barChart, cdfChart } from '../report/svg-charts.js';
import { fmtRatio, say, type BenchContext, type ScenarioResult, type TargetCheck } from '../scenario.js';
import { findSysbench, runSysbench } from '../sysbench.js';
import { startWorkers, type WorkerGroup } from '../workers/worker-pool.js';

const ID = 'point-select';

export async function runPointSelect(ctx: BenchContext, target: BenchTarget): Promise<ScenarioResult> {
  const p = ctx.profile.pointSelect;
  const sysbench = await findSysbench();
  await ensureBenchTable(target, p.tableSize);
  const set = await startContenders(ctx, ID, target);
  let workers: WorkerGroup | undefined;
  try {
    if (!sysbench) workers = await startWorkers('load-worker.js', 2);
    const generator = sysbench ? 'sysbench oltp_point_select' : 'mysql2 in 2 worker processes (sysbench not installed)';
    // Run length: short for the warm-up, then the profile's.
    let seconds = p.warmupSeconds;
    const measure: Measure = async (c, group) => {
      const threads = Number.parseInt(group, 10);
      if (sysbench) {
        const r = await runSysbench(sysbench, c.endpoint, { tableSize: p.tableSize, threads, seconds });
        return { rate: r.qps, ops: r.queries, errors: r.errors, histogram: r.histogram };
      }
      const r = await runMysql2Load(workers!, c.endpoint, 'point-select', threads, seconds, p.tableSize);
      return { rate: r.rate, ops: r.ops, errors: r.errors, firstError: r.firstError, histogram: r.histogram };
    };
    // Warm-up: JIT, buffer pool, connection caches; not recorded.
    say(`${ID}: warming up ${set.running.map((c) => c.spec.label).join(', ')} (${generator})`);
    for (const c of set.running) await measure(c, '8 threads');
    seconds = p.seconds;
    const groups = p.threads.map((t) => `${t} thread${t === 1 ? '' : 's'}`);
    const samples = await alternate(set.running, groups, ctx.profile.rounds, measure, (l) => say(`${ID}: ${l}`), target.backendPid);
    const summaries = summarize(samples, set.running, groups);
    return {
      id: ID,
      title: '1. Point selects (persistent connections)',
      tables: [comparisonTable('', 'threads', 'queries/s', 'query', summaries)],
      charts: [
        {
          file: `${ID}-throughput.svg`,
          svg: barChart({
            title: 'Point selects: queries per second by client threads',
            yLabel: 'queries/s (median of rounds)',
            categories: groups,
            series: set.running.map((c) => ({ label: c.spec.label, values: groups.map((g) => summaries.find((s) => s.group === g && s.contender === c.spec.id)!.rate) })),
          }),
        },
        ...groups.map((g) => ({
          file: `${ID}-latency-${Number.parseInt(g, 10)}t.svg`,
          svg: cdfChart(
            `Point select latency, ${g}`,
            histogramsOf(samples, set.running, g).map((h) => ({ label: h.label, points: h.histogram.cdf() })),
          ),
        })),
      ],
      targets: targets(summaries, set.running),
      notes: [
        `Load: ${generator}, 1 table x ${p.tableSize.toLocaleString('en-US')} rows, ${p.seconds} s per run, ${ctx.profile.rounds} rounds, contenders alternated (rotated start) within each round.`,
        'queries/s is the median over rounds; p50/p99 come from the latency histograms of all rounds merged; "vs" columns are the median of per-round ratios.',
        '"proxy CPU" is the user+system CPU time of the HAProxy or proxy process during a run divided by the queries it carried (median over rounds): unlike throughput it barely moves with noisy neighbours. "compute CPU" is the same for the mariadbd behind every contender.',
        ...set.skipped.map((s) => `Skipped ${s.spec.label}: ${s.reason}.`),
        ...summaries.filter((s) => s.firstError).map((s) => `${s.label} ${s.group}: first error: ${s.firstError}`),
      ],
      data: { generator, samples: samples.map((s) => ({ ...s, histogram: s.histogram.toJSON() })), summaries, skipped: set.skipped.map((s) => ({ id: s.spec.id, reason: s.reason })) },
    };
  } finally {
    await workers?.stop();
    await set.stop();
  }
}

function targets(summaries: ReturnType<typeof summarize>, running: Contender[]): TargetCheck[] {
  const pipe = running.find((c) => c.spec.id === 'proxy-pipe');
  const check = (threads: number, wanted: number): TargetCheck => {
    const s = summaries.find((x) => x.contender === 'proxy-pipe' && Number.parseInt(x.group, 10) === threads);
    const ratio = s?.vsHaproxy ?? NaN;
    return {
      name: `pipe vs HAProxy, ${threads} thread${threads === 1 ? '' : 's'}`,
      target: `>= ${wanted.toFixed(2)}x (goal 1.0x)`,
      measured: fmtRatio(ratio),
      met: pipe && Number.isFinite(ratio) ? ratio >= wanted : null,
    };
  };
  return [check(8, 0.9), check(1, 0.95)];
}
