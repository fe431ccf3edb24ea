// What every scenario hands back to the runner: tables to print, charts to
// write, targets checked against what was measured, and the raw
// data for results.json.
import type { BaselineMode, BenchProfile } from './options.js';
import type { Placement } from './placement.js';

export interface Table {
  title: string;
  columns: string[];
  rows: string[][];
}

export interface Chart {
  /** File name inside the results directory, e.g. point-select-throughput.svg. */
  file: string;
  svg: string;
}

export interface TargetCheck {
  name: string;
  target: string;
  measured: string;
  /** null when it could not be measured in this run. */
  met: boolean | null;
}

export interface ScenarioResult {
  id: string;
  title: string;
  tables: Table[];
  charts: Chart[];
  targets: TargetCheck[];
  notes: string[];
  data: unknown;
}

export interface BenchContext {
  profile: BenchProfile;
  /** Scratch space (datadirs, configs); removed at the end. */
  workDir: string;
  outDir: string;
  /** Set with --cpu-prof: where proxy processes write their .cpuprofile files. */
  cpuProfDir: string | undefined;
  /** With --baseline: the other build's proxy host script, and the modes it runs in. */
  baselineHost: string | undefined;
  baselineModes: readonly BaselineMode[];
  /** With --node-flags: extra Node/V8 flags for this build's proxy processes (not the baseline's). */
  nodeFlags: readonly string[];
  /** With --workers: how many processes the "(n workers)" contenders run. */
  proxyWorkers: number | undefined;
  /** With --pin: where contenders and everything else run. */
  placement: Placement | undefined;
  /** The bench's redis-server (started on first use), for proxies with several workers. */
  redisUrl(): Promise<string>;
}

/** A number for a table cell: 3 significant digits, thousands kept whole. */
export function fmt(x: number, unit = ''): string {
  if (!Number.isFinite(x)) return 'n/a';
  const abs = Math.abs(x);
  const s = abs >= 1000 ? Math.round(x).toLocaleString('en-US') : abs >= 100 ? x.toFixed(0) : abs >= 10 ? x.toFixed(1) : x.toFixed(abs >= 1 ? 2 : 3);
  return unit ? `${s} ${unit}` : s;
}

export function fmtRatio(x: number): string {
  return Number.isFinite(x) ? `${x.toFixed(2)}x` : 'n/a';
}

/** Contender order for round r: rotated so no contender always runs first (after a warm cache). */
export function rotate<T>(items: T[], round: number): T[] {
  const k = round % Math.max(1, items.length);
  return [...items.slice(k), ...items.slice(0, k)];
}

const t0 = performance.now();

/** Progress goes to stderr so stdout carries only the tables. */
export function say(line: string): void {
  process.stderr.write(`[${((performance.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${line}\n`);
}
