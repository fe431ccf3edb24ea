// Table rows to records and back. Columns are snake_case in both dialects;
// optional fields are NULL in the row and absent in the record.
import { MIN_CU_MILLI } from '../compute-size.js';
import type { ComputeOp, ComputeRecord, ComputeState, ProjectRecord } from '../records.js';
import type { ComputeEvent, InstanceRow } from './state-store.js';
import type { SqlValue } from './sql-database.js';

export interface ProjectRow {
  id: string;
  name: string;
  created_at: string;
  owner_user: string;
  owner_verifier: string;
  compute_id: string | null;
  compute_seq: number;
  min_cu_milli: number;
  max_cu_milli: number;
  quota_cu_ms: number | null;
  quota_storage_bytes: number | null;
}

export interface ComputeRow {
  id: string;
  project_id: string;
  state: string;
  version: number;
  endpoint_host: string | null;
  endpoint_port: number | null;
  created_at: string;
  updated_at: string;
  last_error: string | null;
  resume_count: number;
  last_wake_at: number | null;
  op: string | null;
  op_holder: string | null;
  op_since: number | null;
  owner: string | null;
  placement: string | null;
  control_user: string | null;
  control_password: string | null;
  size_milli: number;
}

export interface EventRow {
  seq: number;
  at: number;
  project_id: string;
  compute_id: string;
  state: string;
  run: number;
  by_instance: string;
  epoch: number | null;
  cu_milli: number | null;
}

export interface InstanceTableRow {
  id: string;
  host: string;
  pid: number;
  locality: string;
  placement: string;
  started_at: number;
  silent_ms: number;
}

export const PROJECT_COLUMNS =
  'id, name, created_at, owner_user, owner_verifier, compute_id, compute_seq, min_cu_milli, max_cu_milli, quota_cu_ms, quota_storage_bytes';

export function projectParams(p: ProjectRecord): SqlValue[] {
  return [
    p.id,
    p.name,
    p.createdAt,
    p.ownerUser,
    p.ownerVerifier,
    p.computeId,
    p.computeSeq,
    p.range.minMilli,
    p.range.maxMilli,
    p.quota.cuMsPerMonth,
    p.quota.storageBytes,
  ];
}

export function projectOf(r: ProjectRow): ProjectRecord {
  return {
    id: r.id,
    name: r.name,
    createdAt: r.created_at,
    ownerUser: r.owner_user,
    ownerVerifier: r.owner_verifier,
    computeId: r.compute_id,
    computeSeq: r.compute_seq,
    range: { minMilli: r.min_cu_milli, maxMilli: r.max_cu_milli },
    quota: { cuMsPerMonth: r.quota_cu_ms, storageBytes: r.quota_storage_bytes },
  };
}

export const COMPUTE_COLUMNS =
  'id, project_id, state, version, endpoint_host, endpoint_port, created_at, updated_at, last_error, resume_count, ' +
  'last_wake_at, op, op_holder, op_since, owner, placement, control_user, control_password, size_milli';

export function computeParams(c: ComputeRecord): SqlValue[] {
  return [
    c.id,
    c.projectId,
    c.state,
    c.version,
    c.endpoint?.host ?? null,
    c.endpoint?.port ?? null,
    c.createdAt,
    c.updatedAt,
    c.lastError ?? null,
    c.resumeCount,
    c.lastWakeAt ?? null,
    c.claim?.op ?? null,
    c.claim?.holder ?? null,
    c.claim?.since ?? null,
    c.owner ?? null,
    c.placement ?? null,
    c.control?.user ?? null,
    c.control?.password ?? null,
    c.sizeMilli,
  ];
}

export function computeOf(r: ComputeRow): ComputeRecord {
  return {
    id: r.id,
    projectId: r.project_id,
    state: r.state as ComputeState,
    version: r.version,
    ...(r.endpoint_host !== null && r.endpoint_port !== null ? { endpoint: { host: r.endpoint_host, port: r.endpoint_port } } : {}),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    ...(r.last_error !== null ? { lastError: r.last_error } : {}),
    resumeCount: r.resume_count,
    ...(r.last_wake_at !== null ? { lastWakeAt: r.last_wake_at } : {}),
    ...(r.op !== null ? { claim: { op: r.op as ComputeOp, holder: r.op_holder ?? '', since: r.op_since ?? 0 } } : {}),
    ...(r.owner !== null ? { owner: r.owner } : {}),
    ...(r.placement !== null ? { placement: r.placement } : {}),
    ...(r.control_user !== null && r.control_password !== null ? { control: { user: r.control_user, password: r.control_password } } : {}),
    sizeMilli: r.size_milli,
  };
}

export function eventOf(r: EventRow): ComputeEvent {
  return {
    seq: r.seq,
    at: r.at,
    projectId: r.project_id,
    computeId: r.compute_id,
    state: r.state as ComputeEvent['state'],
    run: r.run === 1,
    by: r.by_instance,
    ...(r.epoch !== null ? { epoch: r.epoch } : {}),
    cuMilli: r.cu_milli ?? MIN_CU_MILLI,
  };
}

export function instanceOf(r: InstanceTableRow): InstanceRow {
  return {
    id: r.id,
    host: r.host,
    pid: r.pid,
    locality: r.locality,
    placement: r.placement,
    startedAt: r.started_at,
    silentMs: r.silent_ms,
  };
}

/** `?, ?, ...` for n values. */
export function placeholders(n: number): string {
  return Array.from({ length: n }, () => '?').join(', ');
}
