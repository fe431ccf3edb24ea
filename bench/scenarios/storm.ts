// Scenario 3: a storm. N clients connect at the same instant to a project
// whose compute sleeps. Wanted: one wake (resumeCount +1), every client
// served, and a last-served time close to one cold wake.
import { median, quantileOf } from '../histogram.js';
import { sleep } from '../processes.js';
import { barChart } from '../report/svg-charts.js';
import { fmt, say, type BenchContext, type ScenarioResult, type TargetCheck } from '../scenario.js';
import type { WakeStack } from '../wake-stack.js';
import { split, startWorkers, type WorkerMessage } from '../workers/worker-pool.js';

const ID = 'storm';
const TIERS = ['stop', 'freeze'] as const;
const CLIENT_TIMEOUT_MS = 60_000;

interface Done extends WorkerMessage {
  served: number[];
  errors: Record<string, number>;
}

interface StormRun {
  tier: (typeof TIERS)[number];
  round: number;
  clients: number;
  served: number;
  resumes: number;
  firstMs: number;
  p50Ms: number;
  p99Ms: number;
  lastMs: number;
  errors: Record<string, number>;
}

export async function runStorm(ctx: BenchContext, stack: WakeStack): Promise<ScenarioResult> {
  const { clients, workers: workerCount } = ctx.profile.storm;
  const project = await stack.createProject('storm');
  const group = await startWorkers('storm-worker.js', workerCount);
  const runs: StormRun[] = [];
  try {
    for (let round = 0; round < ctx.profile.rounds; round++) {
      for (const tier of round % 2 === 0 ? TIERS : [...TIERS].reverse()) {
        await stack.suspend(project.computeId, tier);
        await sleep(150); // past the proxy's address cache
        const before = (await stack.compute(project.computeId)).resumeCount;
        // A common start instant a little ahead, so every worker fires together.
        const startAt = performance.timeOrigin + performance.now() + 250;
        const shares = split(clients, group.workers.length);
        group.workers.forEach((w, i) =>
          w.send({ type: 'go', host: '127.0.0.1', port: stack.proxyPort, user: project.user, password: project.password, clients: shares[i]!, startAt, timeoutMs: CLIENT_TIMEOUT_MS }),
        );
        const done = await Promise.all(group.workers.map((w) => w.next<Done>('done', CLIENT_TIMEOUT_MS + 30_000)));
        const resumes = (await stack.compute(project.computeId)).resumeCount - before;
        const served = done.flatMap((d) => d.served);
        const errors: Record<string, number> = {};
        for (const d of done) for (const [k, v] of Object.entries(d.errors)) errors[k] = (errors[k] ?? 0) + v;
        const run: StormRun = {
          tier,
          round,
          clients,
          served: served.length,
          resumes,
          firstMs: Math.min(...served),
          p50Ms: quantileOf(served, 0.5),
          p99Ms: quantileOf(served, 0.99),
          lastMs: Math.max(...served),
          errors,
        };
        runs.push(run);
        say(`${ID}: ${tier} round ${round + 1}: ${run.served}/${clients} served, ${resumes} resume(s), last at ${fmt(run.lastMs)} ms`);
      }
    }
  } finally {
    await group.stop();
  }

  const rows = runs.map((r) => [
    r.tier,
    String(r.round + 1),
    String(r.clients),
    `${r.served} (${fmt((100 * r.served) / r.clients)}%)`,
    String(r.resumes),
    fmt(r.firstMs),
    fmt(r.p50Ms),
    fmt(r.p99Ms),
    fmt(r.lastMs),
  ]);
  const allServed = runs.every((r) => r.served === r.clients);
  const oneWake = runs.every((r) => r.resumes === 1);
  const targets: TargetCheck[] = [
    { name: `storm of ${clients}: served`, target: '100%', measured: `${fmt((100 * runs.reduce((s, r) => s + r.served, 0)) / (clients * runs.length))}%`, met: allServed },
    { name: `storm of ${clients}: wakes per storm`, target: '1', measured: runs.map((r) => r.resumes).join(', '), met: oneWake },
  ];
  const errorNotes = Object.entries(
    runs.reduce<Record<string, number>>((acc, r) => {
      for (const [k, v] of Object.entries(r.errors)) acc[`${r.tier}: ${k}`] = (acc[`${r.tier}: ${k}`] ?? 0) + v;
      return acc;
    }, {}),
  ).map(([k, v]) => `${v} x ${k}`);
  return {
    id: ID,
    title: `3. Storm: ${clients} clients at once on a sleeping project`,
    tables: [{ title: '', columns: ['tier', 'round', 'clients', 'served', 'resumes', 'first served ms', 'p50 ms', 'p99 ms', 'last served ms'], rows }],
    charts: [
      {
        file: `${ID}-served.svg`,
        svg: barChart({
          title: `Storm of ${clients}: time until served (median of rounds)`,
          yLabel: 'ms from the common start',
          categories: ['first', 'p50', 'p99', 'last'],
          series: TIERS.map((t) => {
            const rs = runs.filter((r) => r.tier === t);
            return { label: `from ${t}`, values: [median(rs.map((r) => r.firstMs)), median(rs.map((r) => r.p50Ms)), median(rs.map((r) => r.p99Ms)), median(rs.map((r) => r.lastMs))] };
          }),
        }),
      },
    ],
    targets,
    notes: [
      `Clients: mysql2 (connect + SELECT 1 + quit) from ${workerCount} worker processes, all released at one instant; times are from that instant.`,
      '"resumes" is the compute\'s resumeCount before and after, from the control API: 1 means the storm caused exactly one wake.',
      ...(errorNotes.length > 0 ? [`Errors: ${errorNotes.join('; ')}`] : []),
    ],
    data: { runs },
  };
}
