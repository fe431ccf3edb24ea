// Running time and CU-seconds from compute events, as pure arithmetic. A
// compute counts while its process runs (starting, active, stopping) at the
// size the last event gave it: every event carries the size in effect from it
// on, and a resize writes an event of its own, so a period splits exactly
// where the size changed. Frozen, stopped, failed and deleted do not count.
//
// Sums are kept in integer milliseconds and milli-CU x milliseconds, so
// adding periods in any order gives the same total (no float drift); a month
// of 16 CU is about 4e13, far inside the integers a double holds exactly.
import type { ComputeEvent } from './store/state-store.js';

export const HOUR_MS = 3_600_000;

export interface UsageSum {
  /** Milliseconds a compute ran. */
  runMs: number;
  /** Milli-CU times milliseconds: CU-seconds times a million. */
  cuMilliMs: number;
}

export interface UsageByHour {
  total: UsageSum;
  /** Start of each UTC hour (Unix ms) with usage in it, ascending. */
  hours: Array<{ start: number } & UsageSum>;
}

/** One stretch of running at one size. */
interface Period {
  projectId: string;
  start: number;
  end: number;
  cuMilli: number;
}

/** Running periods of the events (in seq order), cut to [fromMs, toMs); one still open runs until `now`. */
export function runningPeriods(events: readonly ComputeEvent[], fromMs: number, toMs: number, now: number): Period[] {
  const open = new Map<string, { projectId: string; start: number; cuMilli: number }>();
  const out: Period[] = [];
  const close = (computeId: string, end: number) => {
    const o = open.get(computeId);
    if (!o) return;
    open.delete(computeId);
    const start = Math.max(o.start, fromMs);
    const stop = Math.min(end, toMs);
    if (stop > start) out.push({ projectId: o.projectId, start, end: stop, cuMilli: o.cuMilli });
  };
  for (const e of events) {
    close(e.computeId, e.at);
    if (e.run) open.set(e.computeId, { projectId: e.projectId, start: e.at, cuMilli: e.cuMilli });
  }
  for (const id of [...open.keys()]) close(id, now);
  return out;
}

export function emptySum(): UsageSum {
  return { runMs: 0, cuMilliMs: 0 };
}

function add(sum: UsageSum, ms: number, cuMilli: number): void {
  sum.runMs += ms;
  sum.cuMilliMs += ms * cuMilli;
}

/** The periods' total, and per UTC hour when `byHour`. */
export function sumPeriods(periods: readonly Period[], byHour: boolean): UsageByHour {
  const total = emptySum();
  const hours = new Map<number, UsageSum>();
  for (const p of periods) {
    add(total, p.end - p.start, p.cuMilli);
    if (!byHour) continue;
    for (let t = p.start; t < p.end; ) {
      const hour = Math.floor(t / HOUR_MS) * HOUR_MS;
      const until = Math.min(p.end, hour + HOUR_MS);
      let h = hours.get(hour);
      if (!h) hours.set(hour, (h = emptySum()));
      add(h, until - t, p.cuMilli);
      t = until;
    }
  }
  return { total, hours: [...hours.entries()].sort((a, b) => a[0] - b[0]).map(([start, s]) => ({ start, ...s })) };
}

/** The sums per project. */
export function sumByProject(periods: readonly Period[], byHour: boolean): Map<string, UsageByHour> {
  const groups = new Map<string, Period[]>();
  for (const p of periods) {
    let g = groups.get(p.projectId);
    if (!g) groups.set(p.projectId, (g = []));
    g.push(p);
  }
  return new Map([...groups.entries()].map(([id, ps]) => [id, sumPeriods(ps, byHour)]));
}

/** CU-seconds of a sum, to the millisecond. */
export function cuSeconds(s: UsageSum): number {
  return Math.round(s.cuMilliMs / 1000) / 1000;
}

export function seconds(s: UsageSum): number {
  return s.runMs / 1000;
}

/** The start of the calendar month (UTC) that holds `ms`, and of the next one. */
export function monthOf(ms: number): { start: number; end: number } {
  const d = new Date(ms);
  return { start: Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1), end: Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) };
}
