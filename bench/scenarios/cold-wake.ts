// Scenario 2: the first query on a sleeping compute, from each suspend tier,
// against starting a bare mariadbd and querying it directly. The question is
// what the serverless path (proxy + control API + driver) adds on top of the
// unavoidable server start. Connected with wire-client.ts so each step is timed.
import { median, quantileOf } from '../histogram.js';
import { prepareDatadir, startMariadb } from '../mariadb.js';
import { sleep } from '../processes.js';
import { barChart } from '../report/svg-charts.js';
import { fmt, fmtRatio, rotate, say, type BenchContext, type ScenarioResult, type TargetCheck } from '../scenario.js';
import { timedConnectAndSelect, type ConnectTimings } from '../wire-client.js';
import type { WakeStack } from '../wake-stack.js';

const ID = 'cold-wake';
const TIMEOUT_MS = 60_000;

type PathId = 'bare' | 'stop' | 'freeze' | 'awake';
const PATHS: Array<{ id: PathId; label: string }> = [
  { id: 'bare', label: 'bare mariadbd start, direct' },
  { id: 'stop', label: 'proxy, compute stopped' },
  { id: 'freeze', label: 'proxy, compute frozen' },
  { id: 'awake', label: 'proxy, compute awake (no wake)' },
];

interface Run {
  path: PathId;
  round: number;
  /** Spawn until ready (bare only). */
  start: number;
  greeting: number;
  /** Handshake response until OK: through the proxy the wake happens in here. */
  login: number;
  query: number;
  total: number;
  resumed: number;
}

export async function runColdWake(ctx: BenchContext, stack: WakeStack): Promise<ScenarioResult> {
  const project = await stack.createProject('coldwake');
  const dd = await prepareDatadir(ctx.workDir, 'bare');
  // The first start creates the user (as a compute's first start does); not measured.
  await (await startMariadb(dd, { init: true })).stop();
  const viaProxy = { host: '127.0.0.1', port: stack.proxyPort, user: project.user, password: project.password };

  const measure = async (path: PathId, round: number): Promise<Run> => {
    if (path === 'bare') {
      const db = await startMariadb(dd, { init: false });
      try {
        const t = await timedConnectAndSelect({ host: db.host, port: db.port, ...dd.creds }, TIMEOUT_MS);
        const start = db.readyAt - db.spawnedAt;
        return { path, round, start, greeting: t.greeting, login: t.login, query: t.query, total: start + t.total, resumed: 0 };
      } finally {
        await db.stop();
      }
    }
    if (path === 'stop' || path === 'freeze') {
      await stack.suspend(project.computeId, path);
      await sleep(150); // past the proxy's address cache, as after a real idle period
    } else {
      await timedConnectAndSelect(viaProxy, TIMEOUT_MS); // make sure it is awake and cached
    }
    const before = (await stack.compute(project.computeId)).resumeCount;
    const t: ConnectTimings = await timedConnectAndSelect(viaProxy, TIMEOUT_MS);
    const resumed = (await stack.compute(project.computeId)).resumeCount - before;
    return { path, round, start: 0, greeting: t.greeting, login: t.login, query: t.query, total: t.total, resumed };
  };

  const runs: Run[] = [];
  const n = ctx.profile.coldWake.runs;
  for (let round = 0; round < n; round++) {
    for (const p of rotate(PATHS, round)) {
      const r = await measure(p.id, round);
      runs.push(r);
      say(`${ID}: run ${round + 1}/${n} ${p.label}: ${fmt(r.total)} ms`);
    }
  }

  const of = (id: PathId) => runs.filter((r) => r.path === id);
  const pairedVsBare = (id: PathId) =>
    median(of(id).map((r) => r.total / (of('bare').find((b) => b.round === r.round)?.total ?? NaN)));
  const rows = PATHS.map((p) => {
    const rs = of(p.id);
    const m = (k: keyof Run) => fmt(median(rs.map((r) => r[k] as number)));
    return [
      p.label,
      String(rs.length),
      m('total'),
      fmt(quantileOf(rs.map((r) => r.total), 0.99)),
      p.id === 'bare' ? m('start') : '-',
      m('greeting'),
      m('login'),
      m('query'),
      fmtRatio(pairedVsBare(p.id)),
      p.id === 'bare' ? '-' : `${rs.reduce((s, r) => s + r.resumed, 0)} / ${rs.length}`,
    ];
  });
  const tierTarget = (id: 'stop' | 'freeze'): TargetCheck => {
    // The same paired ratio as the table's "vs bare start" column.
    const ratio = pairedVsBare(id);
    return { name: `cold wake from ${id} vs bare start (median of paired runs)`, target: '<= 1.30x', measured: fmtRatio(ratio), met: Number.isFinite(ratio) ? ratio <= 1.3 : null };
  };
  return {
    id: ID,
    title: '2. Cold wake: connect + first result on a sleeping compute',
    tables: [
      {
        title: '',
        columns: ['path', 'runs', 'p50 ms', 'p99 ms', 'server start ms', 'TCP + greeting ms', 'login ms', 'SELECT 1 ms', 'vs bare start', 'resumes'],
        rows,
      },
    ],
    charts: [
      {
        file: `${ID}-breakdown.svg`,
        svg: barChart(
          {
            title: 'Cold wake: where the time goes (median of runs)',
            yLabel: 'ms to first result',
            categories: PATHS.map((p) => p.id),
            series: (['start', 'greeting', 'login', 'query'] as const).map((k) => ({
              label: { start: 'server start', greeting: 'TCP + greeting', login: 'login (incl. wake)', query: 'SELECT 1' }[k],
              values: PATHS.map((p) => median(of(p.id).map((r) => r[k]))),
            })),
          },
          true,
        ),
      },
    ],
    targets: [tierTarget('stop'), tierTarget('freeze')],
    notes: [
      `${n} runs per path, paths alternated in rotated order. With so few runs p99 is close to the slowest run.`,
      'bare: spawn mariadbd on an existing datadir (same options and readiness check as the process driver) until it logs "ready for connections", then connect directly; total = start + connect + SELECT 1.',
      'proxy paths: total = TCP connect to the proxy until the SELECT 1 result. "login" = handshake response sent until OK: the proxy checks the password, wakes the compute through the control API, connects and logs in, so the wake is inside it (bare: the server is already up by then).',
      '"resumes" counts real driver resumes per run from the control API (expected 1 per run when asleep, 0 when awake).',
    ],
    data: { runs },
  };
}
