// The autoscaler's rules on recorded samples of a real compute under a load
// ramp, and on samples made to isolate one signal each: up within seconds,
// down only after the goal stayed lower for the whole wait, never outside the
// range, each signal asking for what its rule says.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decide, demandOf, DEFAULT_RULES, goalOf, type AutoscaleSample, type ScalerMemory } from '../../control-plane/autoscale-decision.js';
import { RAMP_SAMPLES } from '../helpers/recorded-samples.js';

const RULES = { ...DEFAULT_RULES, downAfterMs: 20_000 };
const RANGE = { minMilli: 250, maxMilli: 1000 };
const GiB = 1024 ** 3;

/** Replays samples through the rules as the autoscaler would; answers the size after each sample. */
function replay(samples: AutoscaleSample[], range = RANGE, rules = RULES): Array<{ at: number; size: number; cause: string }> {
  const memory: ScalerMemory = { changedAt: samples[0]!.at, goals: [] };
  let size = range.minMilli;
  const out: Array<{ at: number; size: number; cause: string }> = [];
  for (let i = 0; i < samples.length; i++) {
    const history = samples.slice(Math.max(0, i - rules.runQueueSamples), i + 1);
    const d = decide(memory, size, goalOf(demandOf(history, rules), range), range, samples[i]!.at, rules);
    if (d.targetMilli !== size) {
      size = d.targetMilli;
      memory.changedAt = samples[i]!.at;
    }
    out.push({ at: samples[i]!.at, size, cause: d.cause });
  }
  return out;
}

const recorded: AutoscaleSample[] = RAMP_SAMPLES.map((s) => ({ ...s, at: s.t }));
/** When a phase began: the first sample of it after the one before (the ramp starts and ends idle). */
const phaseStart = (phase: string, after = 0) => RAMP_SAMPLES.find((s) => s.phase === phase && s.t > after)!.t;

test('on a recorded load ramp: up within seconds of each step, down only after the wait, never outside the range', () => {
  const sizes = replay(recorded);
  const at = (t: number) => sizes.filter((s) => s.at <= t).at(-1)!.size;
  for (const s of sizes) assert.ok(s.size >= RANGE.minMilli && s.size <= RANGE.maxMilli, `size ${s.size} at ${s.at} ms`);
  assert.equal(at(phaseStart('threads-1') - 1), 250, 'idle at first: the minimum');

  const firstAbove = (from: number, size: number) => sizes.find((s) => s.at >= from && s.size >= size)?.at;
  const one = firstAbove(phaseStart('threads-1'), 500);
  assert.ok(one !== undefined && one - phaseStart('threads-1') <= 15_000, `1 thread: up within 15 s (after ${one! - phaseStart('threads-1')} ms)`);
  const four = firstAbove(phaseStart('threads-4'), 1000);
  assert.ok(four !== undefined && four - phaseStart('threads-4') <= 15_000, `4 threads: at the maximum within 15 s (after ${four! - phaseStart('threads-4')} ms)`);
  const idle = phaseStart('idle', phaseStart('threads-16'));
  assert.equal(at(idle - 1), 1000, '16 threads: still at the maximum');

  const down = sizes.find((s) => s.at > idle && s.size < 1000);
  assert.ok(down, 'goes down once idle');
  assert.ok(down.at - idle >= RULES.downAfterMs - 2_000, `not before the wait (${down.at - idle} ms after the load ended)`);
  assert.equal(sizes.at(-1)!.size, 250, 'and ends at the minimum');
  assert.equal(down.cause, 'minimum');
  // Down in one step to the highest goal of the wait, not step by step.
  assert.equal(down.size, 250);
});

test('the same ramp in a narrower range stays inside it', () => {
  const range = { minMilli: 500, maxMilli: 750 };
  for (const s of replay(recorded, range)) assert.ok(s.size >= 500 && s.size <= 750, `size ${s.size}`);
});

/** A quiet sample with overrides: one signal at a time. */
function sample(at: number, o: Partial<AutoscaleSample> = {}): AutoscaleSample {
  return {
    at,
    cpuSecondsTotal: at / 1000 / 100,
    memoryBytes: 120 * 1024 ** 2,
    threadsRunning: 0,
    pageSize: 16_384,
    pagesTotal: 32_448,
    pagesData: 500,
    pagesFree: 31_948,
    readRequests: 0,
    reads: 0,
    ...o,
  };
}

test('cpu: CPUs used over the interval, or the run queue when it is longer, over 90% of a CU each', () => {
  const d = demandOf([sample(0, { cpuSecondsTotal: 10 }), sample(2_000, { cpuSecondsTotal: 11.8 })], RULES);
  assert.ok(Math.abs(d.cpuCores - 0.9) < 1e-9);
  assert.ok(Math.abs(d.cpu - 1) < 1e-9, '0.9 CPUs ask for exactly 1 CU');
  assert.equal(goalOf(d, { minMilli: 250, maxMilli: 4000 }).goalMilli, 1000);
  // Throttled at 0.25 CPUs with 6 statements waiting: the run queue says how much more it wants.
  const queued = demandOf(
    [0, 2_000, 4_000].map((t, i) => sample(t, { cpuSecondsTotal: t / 4000, threadsRunning: [5, 6, 7][i]! })),
    RULES,
  );
  assert.equal(queued.runQueue, 6);
  // 6 / 0.9 = 6.67 CU, rounded up to a step.
  assert.equal(goalOf(queued, { minMilli: 250, maxMilli: 16_000 }).goalMilli, 6750);
  // An idle compute with one statement caught running once (the control plane's own read, say): noise, not load.
  const blip = demandOf([0, 2_000, 4_000].map((t, i) => sample(t, { threadsRunning: [0, 1, 0][i]! })), RULES);
  assert.equal(blip.runQueue, 0);
  assert.equal(goalOf(blip, { minMilli: 250, maxMilli: 4000 }).goalMilli, 250);
  assert.equal(demandOf([sample(0, { threadsRunning: 3 })], RULES).runQueue, 0, 'one sample alone says nothing');
  // Kubernetes: a rate from the metrics API, no totals.
  const k8s = demandOf([sample(0, { cpuSecondsTotal: undefined, cpuCores: 1.35 })], RULES);
  assert.deepEqual(goalOf(k8s, { minMilli: 250, maxMilli: 4000 }), { goalMilli: 1500, cause: 'cpu' });
});

test('memory: what the server holds outside its buffer pool, over 75% of that share of a CU', () => {
  // 1.6 GiB outside a pool of 100 touched pages: 1.6 / (2 GiB x 0.75) = 1.07 CU.
  const pool = 100 * 16_384;
  const d = demandOf([sample(0, { memoryBytes: 1.6 * GiB + pool, pagesFree: 32_448 - 100 })], RULES);
  assert.ok(d.memory > 1.06 && d.memory < 1.08, `memory asks ${d.memory}`);
  assert.deepEqual(goalOf(d, { minMilli: 250, maxMilli: 4000 }), { goalMilli: 1250, cause: 'memory' });
  // A full pool is not memory pressure: its pages are left out.
  const full = demandOf([sample(0, { memoryBytes: 32_448 * 16_384 + 100 * 1024 ** 2, pagesFree: 0, pagesData: 32_448 })], RULES);
  assert.ok(full.memory < 0.1, `memory asks ${full.memory}`);
});

test('working set: a full pool that misses asks for its cached pages over its hit ratio; an idle pool asks nothing', () => {
  // The pool of 0.5 CU (1 GiB), full.
  const full = { pagesTotal: 65_536, pagesData: 65_400, pagesFree: 10 };
  // 20% of 10,000 reads a second miss: the working set is about 1 GiB / 0.8.
  const missing = demandOf([sample(0, full), sample(1_000, { ...full, readRequests: 10_000, reads: 2_000 })], RULES);
  assert.ok(Math.abs(missing.hitRatio! - 0.8) < 1e-9);
  const cached = 65_400 * 16_384;
  assert.ok(Math.abs(missing.workingSet - cached / 0.8 / (2 * GiB)) < 1e-9);
  assert.deepEqual(goalOf(missing, RANGE), { goalMilli: 750, cause: 'working_set' });
  // The same pool hitting 99.9%: it holds its working set, and asks to keep its size.
  const hitting = demandOf([sample(0, full), sample(1_000, { ...full, readRequests: 10_000, reads: 10 })], RULES);
  assert.ok(Math.abs(hitting.workingSet - cached / (2 * GiB)) < 1e-9);
  assert.deepEqual(goalOf(hitting, RANGE), { goalMilli: 500, cause: 'working_set' });
  // No reads: the cache says nothing about what is used now.
  const idle = demandOf([sample(0, full), sample(1_000, full)], RULES);
  assert.equal(idle.hitRatio, null);
  assert.equal(idle.workingSet, 0);
  // A scan that misses everything at first asks at most twice the pool per step.
  const scan = demandOf([sample(0, full), sample(1_000, { ...full, readRequests: 10_000, reads: 10_000 })], RULES);
  assert.ok(Math.abs(scan.workingSet - (2 * cached) / (2 * GiB)) < 1e-9);
});

test('decide: up at once to the goal; down after the wait to the highest goal seen in it; into a changed range at once', () => {
  const memory: ScalerMemory = { changedAt: 0, goals: [] };
  const goal = (goalMilli: number) => ({ goalMilli, cause: 'cpu' as const });
  assert.deepEqual(decide(memory, 250, goal(750), RANGE, 1_000, RULES), { targetMilli: 750, direction: 'up', cause: 'cpu' });
  memory.changedAt = 1_000;
  // Lower goals for less than the wait: hold.
  for (let t = 3_000; t < 21_000; t += 2_000) assert.equal(decide(memory, 750, goal(t < 10_000 ? 500 : 250), RANGE, t, RULES).direction, 'hold', `at ${t}`);
  // The wait has passed since the change, but the goal that made it (750, at 1 s) is still in it.
  assert.equal(decide(memory, 750, goal(250), RANGE, 21_000, RULES).direction, 'hold');
  // Once it is out, down to the highest goal left in the wait: 500 (at 3-9 s), not the 250 asked now.
  assert.deepEqual(decide(memory, 750, goal(250), RANGE, 23_000, RULES), { targetMilli: 500, direction: 'down', cause: 'cpu' });
  const fresh: ScalerMemory = { changedAt: 0, goals: [] };
  for (let t = 0; t < 20_000; t += 2_000) decide(fresh, 750, goal(250), RANGE, t, RULES);
  assert.equal(decide(fresh, 750, goal(250), RANGE, 20_000, RULES).targetMilli, 250);
  // A narrower range moves the size into it at once, whatever the wait.
  assert.deepEqual(decide({ changedAt: 0, goals: [] }, 1000, goal(250), { minMilli: 250, maxMilli: 500 }, 1, RULES), {
    targetMilli: 500,
    direction: 'down',
    cause: 'range',
  });
  assert.deepEqual(decide({ changedAt: 0, goals: [] }, 250, goal(250), { minMilli: 750, maxMilli: 1000 }, 1, RULES).targetMilli, 750);
});

test('goals round up to a quarter CU and stay inside the range', () => {
  const at = (cpu: number, range = RANGE) => goalOf({ cpu, memory: 0, workingSet: 0, load: 0, cpuCores: 0, runQueue: 0, hitRatio: null }, range);
  assert.deepEqual(at(0), { goalMilli: 250, cause: 'minimum' });
  assert.deepEqual(at(0.26), { goalMilli: 500, cause: 'cpu' });
  assert.deepEqual(at(0.5), { goalMilli: 500, cause: 'cpu' });
  assert.deepEqual(at(9), { goalMilli: 1000, cause: 'cpu' });
  assert.deepEqual(at(0.6, { minMilli: 1000, maxMilli: 2000 }), { goalMilli: 1000, cause: 'minimum' });
});
