// `npm run bench [-- --quick]`: starts what the scenarios need, runs them one
// after another, prints a markdown section per scenario as it finishes, and
// writes results.md, results.json and SVG charts to bench/results/<timestamp>/.
// Whatever happens, everything it started is stopped and its scratch
// directory removed (see cleanup.ts).
import { mkdir, mkdtemp } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cleanupAll, trackDir } from './cleanup.js';
import { fdLimit } from './proc-info.js';
import { findHaproxy } from './haproxy.js';
import { summarizeProfiles } from './report/profile-summary.js';
import { startBenchTarget, type BenchTarget } from './bench-target.js';
import { MARIADBD } from './mariadb.js';
import { parseBenchOptions, USAGE, type ScenarioId } from './options.js';
import { runCommand } from './processes.js';
import { renderScenario, writeResults, markdownTable, type RunMeta } from './report/write-results.js';
import { startRedis } from './redis.js';
import { say, type BenchContext, type ScenarioResult } from './scenario.js';
import { findSysbench } from './sysbench.js';
import { runPointSelect } from './scenarios/point-select.js';
import { runChurn } from './scenarios/churn.js';
import { runIdleClients } from './scenarios/idle-clients.js';
import { runColdWake } from './scenarios/cold-wake.js';
import { runStorm } from './scenarios/storm.js';
import { runTls } from './scenarios/tls.js';
import { startWakeStack, type WakeStack } from './wake-stack.js';
import { runAutoscale, startAutoscaleStack } from './scenarios/autoscale.js';
import { runNoisyNeighbour } from './scenarios/noisy-neighbour.js';
import { runIdlePool } from './scenarios/idle-pool.js';
import { runReadWrite } from './scenarios/read-write.js';
import { describePlacement, pinProcess, planPlacement } from './placement.js';

const RESULTS_ROOT = fileURLToPath(new URL('../../bench/results/', import.meta.url));

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseBenchOptions(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`bench: ${(err as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  if (parsed === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const started = new Date();
  const outDir = resolve(parsed.outDir ?? join(RESULTS_ROOT, started.toISOString().replace(/[:.]/g, '-')));
  await mkdir(join(outDir, 'logs'), { recursive: true });
  const cpuProfDir = parsed.cpuProf ? join(outDir, 'profiles') : undefined;
  if (cpuProfDir) await mkdir(cpuProfDir, { recursive: true });
  // Before anything starts: what the bench starts from here on runs where it does.
  const placement = parsed.pin ? planPlacement() : undefined;
  if (placement) await pinProcess(process.pid, placement.rest);
  const workDir = await mkdtemp(join(tmpdir(), 'wake-proxy-bench-'));
  trackDir(workDir);
  let redis: Promise<{ url: string }> | undefined;
  const ctx: BenchContext = {
    profile: parsed.profile,
    workDir,
    outDir,
    cpuProfDir,
    baselineHost: parsed.baseline,
    baselineModes: parsed.baselineModes,
    nodeFlags: parsed.nodeFlags,
    proxyWorkers: parsed.proxyWorkers,
    placement,
    redisUrl: async () => (await (redis ??= startRedis())).url,
  };
  say(`bench ${parsed.profile.name}: ${parsed.scenarios.join(', ')}; results in ${outDir}`);

  const results: ScenarioResult[] = [];
  let target: Promise<BenchTarget> | undefined;
  let stack: WakeStack | undefined;
  // Shared parts start on first use and stop at the end. The target (a compute
  // behind its own control plane and session-mode proxy) is started once even
  // if its first start failed: the scenarios after it then fail the same way.
  const benchTarget = () => (target ??= startBenchTarget(ctx));
  const wakeStack = async () => (stack ??= await startWakeStack(ctx));
  const scenarios: Record<ScenarioId, () => Promise<ScenarioResult>> = {
    'point-select': async () => runPointSelect(ctx, await benchTarget()),
    'cold-wake': async () => runColdWake(ctx, await wakeStack()),
    storm: async () => runStorm(ctx, await wakeStack()),
    churn: async () => runChurn(ctx, await benchTarget()),
    tls: async () => runTls(ctx, await benchTarget()),
    idle: () => runIdleClients(ctx),
    autoscale: async () => runAutoscale(ctx, await startAutoscaleStack(ctx)),
    'noisy-neighbour': () => runNoisyNeighbour(ctx),
    'idle-pool': () => runIdlePool(ctx),
    'read-write': async () => runReadWrite(ctx, await benchTarget()),
  };
  try {
    for (const id of parsed.scenarios) {
      say(`--- ${id}`);
      let r: ScenarioResult;
      try {
        r = await scenarios[id]();
      } catch (err) {
        say(`${id} failed: ${(err as Error).stack ?? err}`);
        r = { id, title: `${id}: FAILED`, tables: [], charts: [], targets: [], notes: [`failed: ${(err as Error).message}`], data: null };
      }
      results.push(r);
      process.stdout.write(`\n${renderScenario(r)}\n\n`);
    }
  } finally {
    say('stopping everything the bench started');
    await cleanupAll();
  }
  if (cpuProfDir) {
    const profiles = await summarizeProfiles(cpuProfDir);
    results.push(profiles);
    process.stdout.write(`\n${renderScenario(profiles)}\n\n`);
  }
  const meta: RunMeta = {
    startedAt: started.toISOString(),
    profile: parsed.profile.name,
    durationSeconds: (Date.now() - started.getTime()) / 1000,
    machine: {
      ...(await describeMachine()),
      ...(ctx.nodeFlags.length > 0 ? { 'proxy Node flags (not the baseline)': ctx.nodeFlags.join(' ') } : {}),
      placement: placement ? describePlacement(placement) : 'every process on every CPU',
    },
  };
  await writeResults(outDir, meta, results);
  const targets = results.flatMap((r) => r.targets);
  if (targets.length > 0) {
    const rows = targets.map((t) => [t.name, t.target, t.measured, t.met === null ? 'not measured' : t.met ? 'yes' : '**NO**']);
    process.stdout.write(`${markdownTable({ title: 'Targets', columns: ['target', 'wanted', 'measured', 'met'], rows })}\n\n`);
  }
  say(`done in ${meta.durationSeconds.toFixed(0)} s; results, charts and logs in ${outDir}`);
  return results.some((r) => r.data === null) ? 1 : 0;
}

async function describeMachine(): Promise<Record<string, string>> {
  const version = async (cmd: string, args: string[]) => {
    try {
      const r = await runCommand(cmd, args, 10_000);
      return (r.stdout || r.stderr).split('\n')[0]!.trim();
    } catch {
      return 'not installed';
    }
  };
  const haproxy = await findHaproxy();
  const sysbench = await findSysbench();
  return {
    cpus: `${cpus().length} x ${cpus()[0]?.model.trim() ?? 'unknown'}`,
    node: process.version,
    mariadbd: await version(MARIADBD, ['--version']),
    haproxy: haproxy ? await version(haproxy, ['-v']) : 'not installed',
    sysbench: sysbench ? await version(sysbench, ['--version']) : 'not installed',
    'open files limit': String(await fdLimit()),
  };
}

main().then(
  (code) => process.exit(code),
  async (err: unknown) => {
    process.stderr.write(`bench: ${(err as Error).stack ?? err}\n`);
    await cleanupAll();
    process.exit(1);
  },
);
