// A project's settings as the API takes them, at creation and in
// PATCH /api/v1/projects/{id}: its size range (minCu, maxCu) and its plan's
// quotas. Every field is checked; anything unexpected is a 400 naming it,
// never a default.
import { badRequest } from './api-error.js';
import { DEFAULT_RANGE, milliFromCu, rangeProblem, type SizeRange } from './compute-size.js';
import { UNLIMITED, type Quota } from './records.js';
import type { ProjectChange } from './store/state-store.js';

/** The most a quota may say: a year of 16 CU running all the time, and a petabyte. */
const MAX_CU_HOURS = 16 * 24 * 366;
const MAX_STORAGE_BYTES = 2 ** 50;

type Body = Record<string, unknown> | undefined;

const CREATE_FIELDS = new Set(['name', 'minCu', 'maxCu', 'quota']);
const PATCH_FIELDS = new Set(['minCu', 'maxCu', 'quota']);

/** The range and quota a new project gets: what the body says, defaults for the rest. */
export function creationSettings(body: Body): { range: SizeRange; quota: Quota } {
  unknownFields(body, CREATE_FIELDS);
  const range = rangeFrom(body, DEFAULT_RANGE);
  const quota = body?.quota === undefined ? UNLIMITED : quotaFrom(body.quota, UNLIMITED);
  return { range, quota };
}

/** What a PATCH changes; a range given by one end keeps the other. */
export function settingsChange(body: Body, current: { range: SizeRange; quota: Quota }): ProjectChange {
  unknownFields(body, PATCH_FIELDS);
  const change: ProjectChange = {};
  if (body?.minCu !== undefined || body?.maxCu !== undefined) change.range = rangeFrom(body, current.range);
  if (body?.quota !== undefined) change.quota = quotaFrom(body.quota, current.quota);
  return change;
}

function unknownFields(body: Body, known: Set<string>): void {
  for (const key of Object.keys(body ?? {})) {
    if (!known.has(key)) throw badRequest('unknown_field', `unknown field '${key.slice(0, 40)}'; known: ${[...known].join(', ')}`);
  }
}

function rangeFrom(body: Body, base: SizeRange): SizeRange {
  const end = (field: 'minCu' | 'maxCu', fallback: number): number => {
    const v = body?.[field];
    if (v === undefined) return fallback;
    const milli = milliFromCu(v);
    if (milli === undefined) throw badRequest('invalid_size', `${field} must be a size in CU from 0.25 to 16 in steps of 0.25, not ${JSON.stringify(v)?.slice(0, 40)}`);
    return milli;
  };
  const range = { minMilli: end('minCu', base.minMilli), maxMilli: end('maxCu', base.maxMilli) };
  // One end given alone moves the other with it when they would cross: {"maxCu": 0.25} on 0.5..1 means 0.25..0.25.
  if (body?.minCu === undefined && range.minMilli > range.maxMilli) range.minMilli = range.maxMilli;
  if (body?.maxCu === undefined && range.maxMilli < range.minMilli) range.maxMilli = range.minMilli;
  const problem = rangeProblem(range);
  if (problem) throw badRequest('invalid_size', problem);
  return range;
}

/** `{"cuHoursPerMonth": 100, "storageBytes": 10737418240}`; null lifts a quota, an absent field keeps it. */
function quotaFrom(v: unknown, base: Quota): Quota {
  if (v === null) return UNLIMITED;
  if (typeof v !== 'object' || Array.isArray(v)) throw badRequest('invalid_quota', 'quota must be an object like {"cuHoursPerMonth": 100, "storageBytes": 10737418240}');
  const q = v as Record<string, unknown>;
  for (const key of Object.keys(q)) {
    if (key !== 'cuHoursPerMonth' && key !== 'storageBytes') throw badRequest('invalid_quota', `unknown quota '${key.slice(0, 40)}'; known: cuHoursPerMonth, storageBytes`);
  }
  const out: Quota = { ...base };
  if (q.cuHoursPerMonth !== undefined) {
    const h = q.cuHoursPerMonth;
    if (h !== null && (typeof h !== 'number' || !Number.isFinite(h) || h < 0 || h > MAX_CU_HOURS)) {
      throw badRequest('invalid_quota', `quota.cuHoursPerMonth must be null or a number from 0 to ${MAX_CU_HOURS}`);
    }
    out.cuMsPerMonth = h === null ? null : Math.round(h * 3_600_000);
  }
  if (q.storageBytes !== undefined) {
    const b = q.storageBytes;
    if (b !== null && (typeof b !== 'number' || !Number.isSafeInteger(b) || b < 0 || b > MAX_STORAGE_BYTES)) {
      throw badRequest('invalid_quota', 'quota.storageBytes must be null or a whole number of bytes up to 2^50');
    }
    out.storageBytes = b;
  }
  return out;
}
