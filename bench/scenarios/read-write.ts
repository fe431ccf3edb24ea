// Scenario 10: sysbench oltp_read_write with binary prepared statements
// (`--db-ps-mode=auto`) through the proxy in pipe mode and in transaction pool mode,
// on the point-select target's compute. Issue 13 wants transaction mode within 10% of
// pipe mode in the same run, with zero pins: every transaction (BEGIN, 14 selects,
// 4 writes, COMMIT) borrows a compute connection and gives it back, and its
// statements are prepared on whichever connection it gets. Rounds alternate the
// contenders (rotated start); the ratio is taken within each round and its median
// reported with every round's. Proxy CPU is per transaction.
import mysql from 'mysql2/promise';
import { alternate, histogramsOf, pairedRatio, roundRatios, type Measure, type Sample } from '../compare.js';
import type { BenchTarget } from '../bench-target.js';
import { contendersFor, startContenders, type Contender } from '../contenders.js';
import { Histogram, median } from '../histogram.js';
import { countsSince, readPins, showCounts, totalOf, type Counts } from '../proxy-metrics.js';
import { cdfChart } from '../report/svg-charts.js';
import { fmt, fmtRatio, say, type BenchContext, type ScenarioResult, type Table, type TargetCheck } from '../scenario.js';
import { findSysbench, prepareSysbenchReadWrite, runSysbenchReadWrite, type ReadWriteTables } from '../sysbench.js';

const ID = 'read-write';
const DATABASE = 'sbrw';
const PIPE = 'proxy-pipe';
/** Transaction mode's throughput against pipe mode's in the same round: at least this. */
const WANTED_RATIO = 0.9;

export async function runReadWrite(ctx: BenchContext, target: BenchTarget): Promise<ScenarioResult> {
  const p = ctx.profile.readWrite;
  const title = '10. Read-write transactions with prepared statements (transaction vs pipe mode)';
  const sysbench = await findSysbench();
  if (!sysbench) {
    return { id: ID, title, tables: [], charts: [], targets: [{ name: `${ID}: transaction vs pipe`, target: `>= ${fmtRatio(WANTED_RATIO)}`, measured: 'n/a', met: null }], notes: ['sysbench is not installed: not measured.'], data: {} };
  }
  const tables: ReadWriteTables = { database: DATABASE, tables: p.tables, tableSize: p.tableSize };
  await prepareTables(sysbench, target, tables);
  const specs = contendersFor(ctx).filter((c) => c.kind === 'proxy' && c.poolMode !== 'session');
  const set = await startContenders(ctx, ID, target, specs);
  try {
    const pooled = set.running.filter((c) => c.adminPort !== undefined);
    let seconds = p.warmupSeconds;
    const measure: Measure = async (c, group) => {
      const r = await runSysbenchReadWrite(sysbench, c.endpoint, tables, Number.parseInt(group, 10), seconds);
      return { rate: r.tps, ops: r.transactions, errors: r.errors, histogram: r.histogram };
    };
    const before = await pinsOf(pooled);
    say(`${ID}: warming up ${set.running.map((c) => c.spec.label).join(', ')}`);
    for (const c of set.running) await measure(c, '8 threads');
    seconds = p.seconds;
    const groups = p.threads.map((t) => `${t} thread${t === 1 ? '' : 's'}`);
    const samples = await alternate(set.running, groups, p.rounds, measure, (l) => say(`${ID}: ${l}`), target.backendPid);
    const after = await pinsOf(pooled);
    const pins = new Map(pooled.map((c) => [c.spec.id, countsSince(after.get(c.spec.id) ?? {}, before.get(c.spec.id) ?? {})]));
    return {
      id: ID,
      title,
      tables: [table(samples, set.running, groups, pins)],
      charts: groups.map((g) => ({
        file: `${ID}-latency-${Number.parseInt(g, 10)}t.svg`,
        svg: cdfChart(`Read-write transaction latency, ${g}`, histogramsOf(samples, set.running, g).map((h) => ({ label: h.label, points: h.histogram.cdf() }))),
      })),
      targets: targets(samples, groups, pins),
      notes: [
        `Load: sysbench oltp_read_write --db-ps-mode=auto, ${p.tables} tables x ${p.tableSize.toLocaleString('en-US')} rows in database ${DATABASE}, ${p.seconds} s per run, ${p.rounds} rounds, contenders alternated (rotated start) within each round, after a warm-up of ${p.warmupSeconds} s each.`,
        'transactions/s is the median over rounds; "vs pipe" is the median of per-round ratios to pipe mode, every round\'s in brackets; "proxy CPU" is the proxy process\'s user+system CPU time during a run divided by the transactions it carried (median over rounds); "compute CPU" the same for the mariadbd.',
        'pins: wakeproxy_pool_session_pins_total from the transaction proxy\'s /metrics, its growth from before the warm-up to the end of the last round (every sysbench login and statement).',
        ...set.skipped.map((s) => `Skipped ${s.spec.label}: ${s.reason}.`),
      ],
      data: { tables, samples: samples.map((s) => ({ ...s, histogram: s.histogram.toJSON() })), pins: Object.fromEntries(pins), skipped: set.skipped.map((s) => ({ id: s.spec.id, reason: s.reason })) },
    };
  } finally {
    await set.stop();
  }
}

/** oltp_read_write's tables in a database of their own, made directly on the compute (once: a later run's are dropped first). */
async function prepareTables(sysbench: string, target: BenchTarget, t: ReadWriteTables): Promise<void> {
  const direct = { ...target.backend, ...target.creds };
  const c = await mysql.createConnection({ ...direct, connectTimeout: 10_000 });
  try {
    await c.query(`DROP DATABASE IF EXISTS ${t.database}`);
    await c.query(`CREATE DATABASE ${t.database}`);
  } finally {
    await c.end().catch(() => {});
  }
  say(`${ID}: preparing ${t.tables} tables of ${t.tableSize} rows`);
  await prepareSysbenchReadWrite(sysbench, direct, t);
}

async function pinsOf(pooled: Contender[]): Promise<Map<string, Counts>> {
  return new Map(await Promise.all(pooled.map(async (c) => [c.spec.id, await readPins(c.adminPort!)] as const)));
}

function table(samples: Sample[], running: Contender[], groups: string[], pins: Map<string, Counts>): Table {
  const rows: string[][] = [];
  for (const group of groups) {
    for (const c of running) {
      const mine = samples.filter((s) => s.group === group && s.contender === c.spec.id);
      const h = Histogram.merge(mine.map((s) => s.histogram));
      const vsPipe = c.spec.id === PIPE ? '1.00x' : `${fmtRatio(pairedRatio(samples, group, c.spec.id, PIPE))} (${roundRatios(samples, group, c.spec.id, PIPE).map((r) => r.toFixed(2)).join(', ')})`;
      rows.push([
        group,
        c.spec.label,
        fmt(median(mine.map((s) => s.rate))),
        fmt(h.quantile(0.5)),
        fmt(h.quantile(0.99)),
        vsPipe,
        fmt(median(mine.map((s) => s.cpuUsPerOp))),
        fmt(median(mine.map((s) => s.backendCpuUsPerOp))),
        pins.has(c.spec.id) ? showCounts(pins.get(c.spec.id)!) : 'n/a',
        String(mine.reduce((n, s) => n + s.errors, 0)),
      ]);
    }
  }
  return {
    title: '',
    columns: ['threads', 'contender', 'transactions/s', 'p50 ms', 'p99 ms', 'vs pipe (rounds)', 'proxy CPU µs/transaction', 'compute CPU µs/transaction', 'pins', 'errors'],
    rows,
  };
}

function targets(samples: Sample[], groups: string[], pins: Map<string, Counts>): TargetCheck[] {
  const out: TargetCheck[] = groups.map((group) => {
    const ratio = pairedRatio(samples, group, 'proxy-transaction', PIPE);
    return {
      name: `${ID}: transaction vs pipe, ${group}`,
      target: `>= ${fmtRatio(WANTED_RATIO)}`,
      measured: fmtRatio(ratio),
      met: Number.isFinite(ratio) ? ratio >= WANTED_RATIO : null,
    };
  });
  const mine = pins.get('proxy-transaction');
  out.push({ name: `${ID}: session pins in transaction mode`, target: '0', measured: mine ? String(totalOf(mine)) : 'n/a', met: mine ? totalOf(mine) === 0 : null });
  return out;
}
