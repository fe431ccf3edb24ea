// Scenario 6: what client-side TLS costs. One pipe-mode proxy with
// --tls-cert/--tls-key in front of the compute; the same process carries both
// contenders, plain clients and clients that send an SSLRequest, so the only
// difference is the TLS layer. Two loads: connect + SELECT 1 + disconnect
// (the handshake cost) and point selects on persistent connections (the
// per-byte cost). Ratios TLS / plain are taken within each round.
import { alternate, histogramsOf, pairedRatio, roundRatios, summarize, type Measure, type Sample } from '../compare.js';
import { ensureBenchTable, type BenchTarget } from '../bench-target.js';
import { startPipeProxy, type Contender, type Endpoint } from '../contenders.js';
import { runMysql2Load } from '../mysql2-load.js';
import { barChart, cdfChart } from '../report/svg-charts.js';
import { fmt, fmtRatio, say, type BenchContext, type Chart, type ScenarioResult, type Table } from '../scenario.js';
import { findSysbench, runSysbench } from '../sysbench.js';
import { makeSelfSignedCert } from '../tls-files.js';
import { startWorkers } from '../workers/worker-pool.js';

const ID = 'tls';

type Load = 'connect' | 'select';

export async function runTls(ctx: BenchContext, target: BenchTarget): Promise<ScenarioResult> {
  const p = ctx.profile.tls;
  const sysbench = await findSysbench();
  await ensureBenchTable(target, ctx.profile.pointSelect.tableSize);
  const files = await makeSelfSignedCert(ctx.workDir);
  const started = await startPipeProxy(ctx, `${ID}-proxy-pipe`, target.backend, ['--tls-cert', files.certFile, '--tls-key', files.keyFile]);
  if (!started.ok) throw new Error(`the proxy refused --tls-cert/--tls-key: ${started.reason}`);
  const proxy = started.proxy;
  try {
    const workers = await startWorkers('load-worker.js', p.workers);
    try {
      const plain: Endpoint = { host: '127.0.0.1', port: proxy.port, ...target.creds };
      const contenders: Contender[] = [
        { spec: { id: 'plain', label: 'proxy pipe, plain', kind: 'proxy', poolMode: 'pipe' }, endpoint: plain, pid: proxy.pid },
        { spec: { id: 'tls', label: 'proxy pipe, TLS', kind: 'proxy', poolMode: 'pipe' }, endpoint: { ...plain, tls: true }, pid: proxy.pid },
      ];
      const groups = new Map<string, { load: Load; threads: number }>([
        ...p.connectThreads.map((t) => [`connect, ${threadsLabel(t)}`, { load: 'connect' as const, threads: t }] as const),
        ...p.selectThreads.map((t) => [`point select, ${threadsLabel(t)}`, { load: 'select' as const, threads: t }] as const),
      ]);
      const generator = sysbench ? 'sysbench oltp_point_select (--mysql-ssl=on)' : 'mysql2 in worker processes (sysbench not installed)';
      let seconds = p.warmupSeconds;
      const measure: Measure = async (c, group) => {
        const g = groups.get(group)!;
        if (g.load === 'select' && sysbench) {
          const r = await runSysbench(sysbench, c.endpoint, { tableSize: ctx.profile.pointSelect.tableSize, threads: g.threads, seconds, tlsDir: files.dir });
          return { rate: r.qps, ops: r.queries, errors: r.errors, histogram: r.histogram };
        }
        const mode = g.load === 'connect' ? 'churn' : 'point-select';
        const r = await runMysql2Load(workers, c.endpoint, mode, g.threads, seconds, ctx.profile.pointSelect.tableSize);
        return { rate: r.rate, ops: r.ops, errors: r.errors, firstError: r.firstError, histogram: r.histogram };
      };
      const names = [...groups.keys()];
      const byLoad = (load: Load) => names.filter((n) => groups.get(n)!.load === load);
      // Warm-up (not recorded): one short run per contender and load, at its last thread count.
      say(`${ID}: warming up (proxy on ${proxy.port})`);
      const warmups = [byLoad('connect').at(-1), byLoad('select').at(-1)].filter((g): g is string => g !== undefined);
      for (const c of contenders) for (const g of warmups) await measure(c, g);
      seconds = p.seconds;
      const samples = await alternate(contenders, names, ctx.profile.rounds, measure, (l) => say(`${ID}: ${l}`));
      const tables = [
        tlsTable('Connect + SELECT 1 + disconnect (mysql2)', 'connections/s', 'connection', byLoad('connect'), samples, contenders),
        tlsTable(`Point selects on persistent connections (${generator})`, 'queries/s', 'query', byLoad('select'), samples, contenders),
      ];
      const cpu = (s: Sample) => s.cpuUsPerOp;
      const ratios = names.map((g) => ({
        group: g,
        rate: roundRatios(samples, g, 'tls', 'plain'),
        cpu: roundRatios(samples, g, 'tls', 'plain', cpu),
      }));
      const list = (xs: number[]) => xs.map(fmtRatio).join(', ');
      return {
        id: ID,
        title: '6. TLS: client TLS against plain, same proxy (pipe mode)',
        tables,
        charts: charts(names, samples, contenders),
        targets: [],
        notes: [
          `TLS / plain rate, round by round: ${ratios.map((r) => `${r.group} ${list(r.rate)}`).join('; ')}. Proxy CPU per operation, TLS / plain, round by round: ${ratios.map((r) => `${r.group} ${list(r.cpu)}`).join('; ')}. The table shows their median${ctx.profile.rounds === 2 ? ' (nearest rank: with two rounds, the lower one)' : ''}.`,
          `One proxy process (\`proxy --backend\` with --tls-cert/--tls-key, a self-signed P-256 certificate) serves both contenders; plain clients simply do not send an SSLRequest. ${p.seconds} s per run, ${ctx.profile.rounds} rounds, the two alternated (rotated start).`,
          'Connect loads: mysql2 (ssl: { rejectUnauthorized: false }, TLS 1.3 by default) in worker processes; the client pays its half of the TLS handshake too, so p50 and rate include both sides, while the proxy CPU column is the proxy alone.',
          '"+p50 ms" is TLS p50 minus plain p50 from the merged histograms: the extra time a TLS connect (or query) takes.',
          ...[...new Set(samples.filter((s) => s.firstError).map((s) => `${s.contender} ${s.group}: first error: ${s.firstError}`))],
        ],
        data: { generator, samples: samples.map((s) => ({ ...s, histogram: s.histogram.toJSON() })), ratios },
      };
    } finally {
      await workers.stop();
    }
  } finally {
    await proxy.stop();
  }
}

function threadsLabel(t: number): string {
  return `${t} thread${t === 1 ? '' : 's'}`;
}

function tlsTable(title: string, rateHeader: string, opName: string, groups: string[], samples: Sample[], contenders: Contender[]): Table {
  const summaries = summarize(samples, contenders, groups);
  const p50 = (group: string, id: string) => summaries.find((s) => s.group === group && s.contender === id)?.p50 ?? NaN;
  return {
    title,
    columns: ['load', 'contender', rateHeader, 'p50 ms', 'p99 ms', '+p50 ms', 'TLS / plain', `proxy CPU µs/${opName}`, 'CPU TLS / plain', 'errors'],
    rows: summaries.map((s) => {
      const tls = s.contender === 'tls';
      return [
        s.group,
        s.label,
        fmt(s.rate),
        fmt(s.p50),
        fmt(s.p99),
        tls ? fmt(p50(s.group, 'tls') - p50(s.group, 'plain')) : '-',
        tls ? fmtRatio(pairedRatio(samples, s.group, 'tls', 'plain')) : '1.00x',
        fmt(s.cpuUsPerOp),
        tls ? fmtRatio(pairedRatio(samples, s.group, 'tls', 'plain', (x) => x.cpuUsPerOp)) : '1.00x',
        String(s.errors),
      ];
    }),
  };
}

function charts(groups: string[], samples: Sample[], contenders: Contender[]): Chart[] {
  const rate = (g: string, id: string) => summarize(samples, contenders, [g]).find((s) => s.contender === id)!.rate;
  const out: Chart[] = [
    {
      file: `${ID}-rate.svg`,
      svg: barChart({
        title: 'TLS vs plain through the proxy: operations per second',
        yLabel: 'connections/s or queries/s (median of rounds)',
        categories: groups,
        series: contenders.map((c) => ({ label: c.spec.label, values: groups.map((g) => rate(g, c.spec.id)) })),
      }),
    },
  ];
  groups.forEach((g, i) => {
    const hs = histogramsOf(samples, contenders, g).filter((h) => h.histogram.count > 0);
    if (hs.length === 0) return;
    out.push({ file: `${ID}-latency-${i + 1}.svg`, svg: cdfChart(`TLS vs plain latency, ${g}`, hs.map((h) => ({ label: h.label, points: h.histogram.cdf() }))) });
  });
  return out;
}
