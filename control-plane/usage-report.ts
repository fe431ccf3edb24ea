// GET /api/v1/projects/{id}/usage?from=ISO&to=ISO[&granularity=hour]: what a
// project used in a time range. Compute seconds and CU-seconds come from the
// control plane's own ledger (exact to the transition and the resize), per UTC
// hour when asked; connection seconds and bytes from the proxies' minute
// buckets in the activity store (every minute the range overlaps counts
// whole); storage is measured now, whatever the range.
//
// GET /api/v1/usage?from=ISO&to=ISO[&granularity=hour]: the same ledger for
// every project at once, deleted ones included: what a billing system
// invoices from.
import { ApiError, badRequest } from './api-error.js';
import type { ActivityStore } from '../activity/activity-store.js';
import type { UsageLedger } from './usage-ledger.js';
import { cuSeconds, seconds, type UsageByHour } from './usage-periods.js';

export interface ProjectUsage {
  project: string;
  from: string;
  to: string;
  computeSeconds: number;
  /** Size times running time: what billing counts. */
  cuSeconds: number;
  /** With granularity=hour: each UTC hour with usage in it. */
  hours?: HourUsage[];
  /** null: no activity store configured (no proxy reports anything). */
  connectionSeconds: number | null;
  bytesIn: number | null;
  bytesOut: number | null;
  /** null: the project has no compute, or its driver keeps storage elsewhere. */
  storageBytes: number | null;
}

export interface UsageSources {
  ledger: UsageLedger;
  store?: ActivityStore;
  /** The project's creation time and compute; throws the API's 404 for an unknown project. */
  project(projectId: string): Promise<{ createdAt: string; computeId: string | null }>;
  storageBytes?: (computeId: string) => Promise<number>;
}

export interface HourUsage {
  hour: string;
  computeSeconds: number;
  cuSeconds: number;
}

/** A year and a bit: the widest range one request may ask for. */
const MAX_RANGE_MS = 400 * 24 * 3_600_000;

export async function projectUsage(src: UsageSources, projectId: string, query: URLSearchParams): Promise<ProjectUsage> {
  const project = await src.project(projectId);
  const now = Date.now();
  const { fromMs, toMs, byHour } = rangeOf(query, Date.parse(project.createdAt), now);

  let proxies: { bytesIn: number; bytesOut: number; connectionSeconds: number } | undefined;
  if (src.store) {
    try {
      proxies = await src.store.readUsage(projectId, fromMs, toMs);
    } catch (err) {
      // A partial answer would read as "used nothing": refuse instead.
      throw new ApiError(503, 'activity_store_unavailable', `usage of project '${projectId}': ${(err as Error).message}`, { cause: err });
    }
  }
  let storageBytes: number | null = null;
  if (project.computeId && src.storageBytes) {
    try {
      storageBytes = await src.storageBytes(project.computeId);
    } catch (err) {
      throw new ApiError(503, 'storage_unmeasurable', `storage of project '${projectId}': ${(err as Error).message}`, { cause: err });
    }
  }
  const ledger = await src.ledger.projectUsage(projectId, fromMs, toMs, byHour, now);
  return {
    project: projectId,
    from: iso(fromMs),
    to: iso(toMs),
    ...ledgerFields(ledger, byHour),
    connectionSeconds: proxies ? round3(proxies.connectionSeconds) : null,
    bytesIn: proxies ? proxies.bytesIn : null,
    bytesOut: proxies ? proxies.bytesOut : null,
    storageBytes,
  };
}

export interface AllUsage {
  from: string;
  to: string;
  projects: Array<{ project: string; computeSeconds: number; cuSeconds: number; hours?: HourUsage[] }>;
}

/** Every project with usage in the range (default: the current calendar month so far). */
export async function allUsage(ledger: UsageLedger, query: URLSearchParams): Promise<AllUsage> {
  const now = Date.now();
  const monthStart = new Date(now);
  const { fromMs, toMs, byHour } = rangeOf(query, Date.UTC(monthStart.getUTCFullYear(), monthStart.getUTCMonth(), 1), now);
  const byProject = await ledger.allUsage(fromMs, toMs, byHour, now);
  const projects = [...byProject.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([project, u]) => ({ project, ...ledgerFields(u, byHour) }));
  return { from: iso(fromMs), to: iso(toMs), projects };
}

function ledgerFields(u: UsageByHour, byHour: boolean): { computeSeconds: number; cuSeconds: number; hours?: HourUsage[] } {
  return {
    computeSeconds: round3(seconds(u.total)),
    cuSeconds: cuSeconds(u.total),
    ...(byHour ? { hours: u.hours.map((h) => ({ hour: iso(h.start), computeSeconds: round3(seconds(h)), cuSeconds: cuSeconds(h) })) } : {}),
  };
}

function rangeOf(query: URLSearchParams, defaultFrom: number, now: number): { fromMs: number; toMs: number; byHour: boolean } {
  const fromMs = instant(query.get('from'), 'from') ?? defaultFrom;
  const toMs = instant(query.get('to'), 'to') ?? now;
  if (!(fromMs < toMs)) throw badRequest('invalid_range', `'from' must be before 'to' (got ${iso(fromMs)} .. ${iso(toMs)})`);
  if (toMs - fromMs > MAX_RANGE_MS) throw badRequest('invalid_range', 'the range may span at most 400 days');
  const granularity = query.get('granularity');
  if (granularity !== null && granularity !== 'hour' && granularity !== 'total') {
    throw badRequest('invalid_granularity', `granularity must be 'hour' or 'total', not '${granularity.slice(0, 20)}'`);
  }
  return { fromMs, toMs, byHour: granularity === 'hour' };
}

function instant(text: string | null, name: string): number | undefined {
  if (text === null || text === '') return undefined;
  // ISO 8601 with a date; Date.parse alone would also take "1" or "March 7".
  const ms = /^\d{4}-\d\d-\d\d/.test(text) ? Date.parse(text) : Number.NaN;
  if (Number.isNaN(ms)) throw badRequest('invalid_time', `'${name}' must be an ISO 8601 time like 2024-05-01T00:00:00Z, not '${text.slice(0, 40)}'`);
  return ms;
}

function iso(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString() : String(ms);
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}
