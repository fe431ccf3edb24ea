// Scenario 4: connection churn. Each client loop connects, runs SELECT 1 and
// disconnects, as a serverless function or a PHP request does. Here the proxy
// pays for the whole handshake (greeting, auth switch, backend connect) on
// every query, which the point-select scenario never shows.
import { alternate, comparisonTable, histogramsOf, summarize, type Measure } from '../compare.js';
import { startContenders } from '../contenders.js';
import type { StaticBackend } from '../mariadb.js';
import { runMysql2Load } from '../mysql2-load.js';
import { barChart, cdfChart } from '../report/svg-charts.js';
import { say, type BenchContext, type ScenarioResult } from '../scenario.js';
import { startWorkers } from '../workers/worker-pool.js';

const ID = 'churn';

export async function runChurn(ctx: BenchContext, backend: StaticBackend): Promise<ScenarioResult> {
  const p = ctx.profile.churn;
  const set = await startContenders(ctx, ID, backend.db, backend.creds);
  const workers = await startWorkers('load-worker.js', p.workers).catch(async (err) => {
    await set.stop();
    throw err;
  });
  try {
    const group = `${p.threads} threads`;
    let seconds = 1;
    const measure: Measure = async (c) => {
      const r = await runMysql2Load(workers, c.endpoint, 'churn', p.threads, seconds, 0);
      return { rate: r.rate, ops: r.ops, errors: r.errors, firstError: r.firstError, histogram: r.histogram };
    };
    say(`${ID}: warming up`);
    for (const c of set.running) await measure(c, group);
    seconds = p.seconds;
    const samples = await alternate(set.running, [group], ctx.profile.rounds, measure, (l) => say(`${ID}: ${l}`));
    const summaries = summarize(samples, set.running, [group]);
    return {
      id: ID,
      title: '4. Churn: connect, SELECT 1, disconnect',
      tables: [comparisonTable('', 'client threads', 'connections/s', 'connection', summaries)],
      charts: [
        {
          file: `${ID}-rate.svg`,
          svg: barChart({
            title: 'Churn: connect + SELECT 1 + disconnect per second',
            yLabel: 'connections/s (median of rounds)',
            categories: [group],
            series: summaries.map((s) => ({ label: s.label, values: [s.rate] })),
          }),
        },
        {
          file: `${ID}-latency.svg`,
          svg: cdfChart(
            'Churn: time for connect + SELECT 1 + disconnect',
            histogramsOf(samples, set.running, group).map((h) => ({ label: h.label, points: h.histogram.cdf() })),
          ),
        },
      ],
      targets: [],
      notes: [
        `Load: mysql2 (promise API) in ${p.workers} worker processes, ${p.threads} loops in all, ${p.seconds} s per run, ${ctx.profile.rounds} rounds alternated.`,
        'Latency is one whole cycle (TCP connect, handshake, auth, query, COM_QUIT); the load generator itself is a large part of it on 2 cores, equally for every contender.',
        ...set.skipped.map((s) => `Skipped ${s.spec.label}: ${s.reason}.`),
        ...summaries.filter((s) => s.firstError).map((s) => `${s.label}: first error: ${s.firstError}`),
      ],
      data: { samples: samples.map((s) => ({ ...s, histogram: s.histogram.toJSON() })), summaries },
    };
  } finally {
    await workers.stop();
    await set.stop();
  }
}
