// Running contenders against each other fairly on a noisy machine, and
// summarizing. Each round runs every contender once, back to back, in rotated
// order; ratios are taken within a round (contender / direct of the same round)
// and their median reported, so drift across the run cancels out.
import type { Contender } from './contenders.js';
import { Histogram, median } from './histogram.js';
import { withCpu } from './proc-info.js';
import { fmt, fmtRatio, rotate, type Table } from './scenario.js';

export interface Sample {
  round: number;
  /** What varies besides the contender, e.g. "8 threads". */
  group: string;
  contender: string;
  rate: number;
  /** Operations completed in the run (queries, connections). */
  ops: number;
  errors: number;
  firstError?: string | undefined;
  histogram: Histogram;
  /** CPU microseconds the contender's own process spent per operation; NaN for direct. */
  cpuUsPerOp: number;
  /** CPU microseconds the backend (mariadbd) spent per operation; NaN when not measured. */
  backendCpuUsPerOp: number;
}

export interface Summary {
  group: string;
  contender: string;
  label: string;
  rate: number;
  p50: number;
  p99: number;
  vsDirect: number;
  vsHaproxy: number;
  cpuUsPerOp: number;
  backendCpuUsPerOp: number;
  errors: number;
  firstError: string | undefined;
}

export type Measure = (c: Contender, group: string) => Promise<Omit<Sample, 'round' | 'group' | 'contender' | 'cpuUsPerOp' | 'backendCpuUsPerOp'>>;

/**
 * rounds x groups x contenders (rotated per round); one call of `measure` each.
 * With backendPid, the backend's CPU per operation is recorded too: what a
 * pool saves the compute shows there.
 */
export async function alternate(
  contenders: Contender[],
  groups: string[],
  rounds: number,
  measure: Measure,
  progress: (line: string) => void,
  backendPid?: number,
): Promise<Sample[]> {
  const samples: Sample[] = [];
  const perOp = (cpu: number, ops: number) => (ops > 0 ? (cpu * 1e6) / ops : NaN);
  for (let round = 0; round < rounds; round++) {
    for (const group of groups) {
      for (const c of rotate(contenders, round)) {
        const { result, cpu: backendCpu } = await withCpu(backendPid, () => withCpu(c.pid, () => measure(c, group), c.cpuOfTree));
        const { result: s, cpu } = result;
        samples.push({ round, group, contender: c.spec.id, ...s, cpuUsPerOp: perOp(cpu, s.ops), backendCpuUsPerOp: perOp(backendCpu, s.ops) });
        progress(`round ${round + 1}/${rounds} ${group} ${c.spec.label}: ${fmt(s.rate)}/s${s.errors ? `, ${s.errors} errors` : ''}`);
      }
    }
  }
  return samples;
}

export function summarize(samples: Sample[], contenders: Contender[], groups: string[]): Summary[] {
  const out: Summary[] = [];
  for (const group of groups) {
    for (const c of contenders) {
      const mine = samples.filter((s) => s.group === group && s.contender === c.spec.id);
      const h = Histogram.merge(mine.map((s) => s.histogram));
      out.push({
        group,
        contender: c.spec.id,
        label: c.spec.label,
        rate: median(mine.map((s) => s.rate)),
        p50: h.quantile(0.5),
        p99: h.quantile(0.99),
        vsDirect: pairedRatio(samples, group, c.spec.id, 'direct'),
        vsHaproxy: pairedRatio(samples, group, c.spec.id, 'haproxy'),
        cpuUsPerOp: median(mine.map((s) => s.cpuUsPerOp)),
        backendCpuUsPerOp: median(mine.map((s) => s.backendCpuUsPerOp)),
        errors: mine.reduce((n, s) => n + s.errors, 0),
        firstError: mine.find((s) => s.firstError)?.firstError,
      });
    }
  }
  return out;
}

type Value = (s: Sample) => number;
const byRate: Value = (s) => s.rate;

/** Median over rounds of value(a)/value(b) within the same round and group (value: the rate unless given). */
export function pairedRatio(samples: Sample[], group: string, a: string, b: string, value: Value = byRate): number {
  return median(roundRatios(samples, group, a, b, value));
}

/** value(a)/value(b) of each round, in round order: what pairedRatio takes the median of. */
export function roundRatios(samples: Sample[], group: string, a: string, b: string, value: Value = byRate): number[] {
  const ratios: number[] = [];
  for (const s of samples) {
    if (s.group !== group || s.contender !== a) continue;
    const other = samples.find((o) => o.group === group && o.contender === b && o.round === s.round);
    if (other && value(other) > 0 && Number.isFinite(value(s))) ratios.push(value(s) / value(other));
  }
  return ratios;
}

/** The compute CPU column appears when the backend's CPU was measured. */
export function comparisonTable(title: string, groupHeader: string, rateHeader: string, opName: string, summaries: Summary[]): Table {
  const backend = summaries.some((s) => Number.isFinite(s.backendCpuUsPerOp));
  return {
    title,
    columns: [
      groupHeader,
      'contender',
      rateHeader,
      'p50 ms',
      'p99 ms',
      'vs direct',
      'vs HAProxy',
      `proxy CPU µs/${opName}`,
      ...(backend ? [`compute CPU µs/${opName}`] : []),
      'errors',
    ],
    rows: summaries.map((s) => [
      s.group,
      s.label,
      fmt(s.rate),
      fmt(s.p50),
      fmt(s.p99),
      fmtRatio(s.vsDirect),
      fmtRatio(s.vsHaproxy),
      fmt(s.cpuUsPerOp),
      ...(backend ? [fmt(s.backendCpuUsPerOp)] : []),
      String(s.errors),
    ]),
  };
}

/** The histograms of one group, per contender, for a latency chart. */
export function histogramsOf(samples: Sample[], contenders: Contender[], group: string): Array<{ label: string; histogram: Histogram }> {
  return contenders.map((c) => ({
    label: c.spec.label,
    histogram: Histogram.merge(samples.filter((s) => s.group === group && s.contender === c.spec.id).map((s) => s.histogram)),
  }));
}
