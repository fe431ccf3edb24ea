// Scenario 4: connection churn. Each client loop connects, runs SELECT 1 and
// disconnects, as a serverless function or a PHP request does. The load is
// sysbench's connect loop (a C client, cheap next to what it measures) where
// installed, mysql2 in worker processes otherwise. In pipe mode
// the proxy pays for the whole handshake (backend connect, greeting, the
// client's login relayed) on every query, which the point-select scenario never
// shows; in the pooled modes a verified client borrows a logged-in backend from
// the pool instead, which a TCP proxy cannot do: so the pooled modes should
// connect clients at least as fast as HAProxy, and pipe mode not far behind.
import { alternate, comparisonTable, histogramsOf, roundRatios, summarize, type Measure, type Sample, type Summary } from '../compare.js';
import type { BenchTarget } from '../bench-target.js';
import { POOLED_FLOOR, WIRE_FLOOR, contendersFor, startContenders } from '../contenders.js';
import { runMysql2Load } from '../mysql2-load.js';
import { barChart, cdfChart } from '../report/svg-charts.js';
import { fmtRatio, say, type BenchContext, type ScenarioResult, type TargetCheck } from '../scenario.js';
import { findSysbench, runSysbenchChurn } from '../sysbench.js';
import { startWorkers, type WorkerGroup } from '../workers/worker-pool.js';

const ID = 'churn';

export async function runChurn(ctx: BenchContext, target: BenchTarget): Promise<ScenarioResult> {
  const p = ctx.profile.churn;
  // The floors right after the Node relay: what Node costs relaying two sockets, answering
  // one socket itself, and answering it with a query on a kept compute connection.
  const specs = contendersFor(ctx).flatMap((c) => (c.kind === 'node-relay' ? [c, WIRE_FLOOR, POOLED_FLOOR] : [c]));
  const set = await startContenders(ctx, ID, target, specs);
  const sysbench = await findSysbench();
  let workers: WorkerGroup | undefined;
  try {
    if (!sysbench) workers = await startWorkers('load-worker.js', p.workers);
    const groups = p.threads.map((t) => `${t} thread${t === 1 ? '' : 's'}`);
    const group = groups[0]!;
    let seconds = p.warmupSeconds;
    const measure: Measure = async (c, g) => {
      const threads = Number.parseInt(g, 10);
      if (sysbench) {
        const r = await runSysbenchChurn(sysbench, c.endpoint, ctx.workDir, threads, seconds);
        return { rate: r.rate, ops: r.connections, errors: r.errors, histogram: r.histogram };
      }
      const r = await runMysql2Load(workers!, c.endpoint, 'churn', threads, seconds, 0);
      return { rate: r.rate, ops: r.ops, errors: r.errors, firstError: r.firstError, histogram: r.histogram };
    };
    const generator = sysbench
      ? `sysbench's connect loop (a Lua event: connect with the C client, SELECT 1, disconnect), ${groups.join(' and ')}`
      : `mysql2 (promise API) in ${p.workers} worker processes, ${groups.join(' and ')} in all (sysbench not installed)`;
    say(`${ID}: warming up`);
    for (const c of set.running) await measure(c, group);
    seconds = p.seconds;
    const samples = await alternate(set.running, groups, ctx.profile.rounds, measure, (l) => say(`${ID}: ${l}`), target.backendPid);
    const summaries = summarize(samples, set.running, groups);
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
            categories: groups,
            series: set.running.map((c) => ({ label: c.spec.label, values: groups.map((g) => summaries.find((s) => s.group === g && s.contender === c.spec.id)!.rate) })),
          }),
        },
        ...groups.map((g) => ({
          file: `${ID}-latency-${Number.parseInt(g, 10)}.svg`,
          svg: cdfChart(
            `Churn, ${g}: time for connect + SELECT 1 + disconnect`,
            histogramsOf(samples, set.running, g).map((h) => ({ label: h.label, points: h.histogram.cdf() })),
          ),
        })),
      ],
      targets: churnTargets(summaries, samples, groups),
      notes: [
        `Load: ${generator}, ${p.seconds} s per run, ${ctx.profile.rounds} rounds alternated (rotated start).`,
        'Latency is one whole cycle (TCP connect, handshake, auth, query, COM_QUIT); the load generator itself is a large part of it on 2 cores, equally for every contender.',
        `${group} load the machine: connections/s there is what its 2 cores carry, so CPU per connection decides it. At 1 thread nothing waits for a core: connections/s is one over the time a client connecting per request waits for its answer, which the pooled modes shorten by skipping the compute's login.`,
        'Node pipe() relay is a bare `net` relay (accept, connect, pipe both ways) in its own process: what Node\'s sockets alone cost, against which the proxy\'s own work shows.',
        'Node wire floor answers the login (any password) and SELECT 1 itself from canned packets, with no backend: one socket per client, the least a Node server ending the protocol spends per connection on this machine.',
        'Node pooled floor is the wire floor that sends each query on to the compute over a connection kept logged in between clients, and relays its reply: the least a pooled proxy in Node can spend per connection here (a pooled proxy adds the password check, routing, the borrow and its bookkeeping, the session state and its log line).',
        'All contenders reach the same compute. proxy pipe is `proxy --backend` (passthrough auth: connected to the compute at accept, the client greeted with its scramble, so the compute checks the answer of the client with no auth switch; a baseline from before that change switches); proxy session and proxy transaction are each `proxy --control-url --pool-mode <mode>` in a process of its own in front of the control plane: they check the password themselves and lend a pooled, logged-in backend (session mode resets it with COM_RESET_CONNECTION on quit).',
        '"compute CPU" is the mariadbd\'s own user+system CPU per connection (from /proc, same run): what pooling saves the compute (a reset instead of a connect and login).',
        ...set.skipped.map((s) => `Skipped ${s.spec.label}: ${s.reason}.`),
        ...summaries.filter((s) => s.firstError).map((s) => `${s.label}: first error: ${s.firstError}`),
      ],
      data: { samples: samples.map((s) => ({ ...s, histogram: s.histogram.toJSON() })), summaries },
    };
  } finally {
    await workers?.stop();
    await set.stop();
  }
}

/** What each proxy mode should reach against HAProxy in the same run, and its CPU per connection. */
const CHURN_GOALS = [
  { contender: 'proxy-session', vsHaproxy: 1.0, stretch: 1.3, cpuUs: 300 },
  { contender: 'proxy-transaction', vsHaproxy: 1.0, stretch: 1.3, cpuUs: 300 },
  { contender: 'proxy-pipe', vsHaproxy: 0.8, stretch: undefined, cpuUs: 400 },
] as const;

function churnTargets(summaries: Summary[], samples: Sample[], groups: string[]): TargetCheck[] {
  const [loaded, single] = [groups[0]!, groups.find((g) => Number.parseInt(g, 10) === 1)];
  const out: TargetCheck[] = [];
  const ratioRow = (name: string, group: string, contender: string, wanted: number, stretch?: number): TargetCheck => {
    const s = summaries.find((x) => x.group === group && x.contender === contender);
    const ratio = s?.vsHaproxy ?? NaN;
    const rounds = roundRatios(samples, group, contender, 'haproxy');
    return {
      name,
      target: `>= ${wanted.toFixed(2)}x${stretch ? ` (stretch ${stretch.toFixed(1)}x)` : ''}`,
      measured: s ? `${fmtRatio(ratio)} (rounds: ${rounds.map(fmtRatio).join(', ')})` : 'n/a',
      met: Number.isFinite(ratio) ? ratio >= wanted : null,
    };
  };
  const cpuRow = (name: string, group: string, contender: string, wantedUs: number): TargetCheck => {
    const cpu = summaries.find((x) => x.group === group && x.contender === contender)?.cpuUsPerOp ?? NaN;
    return {
      name,
      target: `<= ${wantedUs} µs`,
      measured: Number.isFinite(cpu) ? `${Math.round(cpu)} µs` : 'n/a',
      met: Number.isFinite(cpu) ? cpu <= wantedUs : null,
    };
  };
  for (const goal of CHURN_GOALS) {
    const mode = goal.contender.replace('proxy-', '');
    out.push(ratioRow(`${mode} churn vs HAProxy`, loaded, goal.contender, goal.vsHaproxy, goal.stretch));
    out.push(cpuRow(`${mode} proxy CPU per connection`, loaded, goal.contender, goal.cpuUs));
    // One client alone: a pooled login skips the compute's, so it should not wait longer than through HAProxy.
    if (single && goal.stretch) out.push(ratioRow(`${mode} churn vs HAProxy, ${single}`, single, goal.contender, 1.0));
    // The same goal for the proxy on every core (--workers), where the run has it; CPU is all its processes'.
    const workers = summaries.find((x) => x.group === loaded && x.contender === `${goal.contender}-workers`);
    if (workers) {
      out.push(ratioRow(`${workers.label}: churn vs HAProxy`, loaded, workers.contender, goal.vsHaproxy, goal.stretch));
      out.push(cpuRow(`${workers.label}: CPU per connection, all processes`, loaded, workers.contender, goal.cpuUs));
    }
  }
  return out;
}
