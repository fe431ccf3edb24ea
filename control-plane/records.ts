// What the control plane keeps about projects and computes, and the shapes the
// API shows. Records hold the owner's verifier, never a password; views hold
// neither.
import type { ControlLogin } from './control-account.js';
import { cuOf, type SizeRange } from './compute-size.js';
import type { ComputeEndpoint } from './drivers/driver.js';

export type ComputeState = 'stopped' | 'starting' | 'active' | 'frozen' | 'stopping' | 'failed';

/** States in which the compute's process runs: they count as compute time. */
export const RUNNING_STATES: ReadonlySet<ComputeState> = new Set(['starting', 'active', 'stopping']);

/**
 * An operation in flight on a compute, by one control plane. While a claim is
 * held, no other control plane operates the compute: it waits, or takes the
 * claim over once its holder is dead.
 *   provision-project: the project and its compute are being created (undone if the holder dies);
 *   provision: a new compute for an existing project (undone likewise);
 *   resume, freeze, stop, destroy: what the names say.
 */
export type ComputeOp = 'provision-project' | 'provision' | 'resume' | 'freeze' | 'stop' | 'destroy';

export interface ComputeClaim {
  op: ComputeOp;
  /** The control plane (instance id) running it. */
  holder: string;
  /** When it was claimed (Unix ms). */
  since: number;
}

/** A project's plan: what it may use. null is unlimited. */
export interface Quota {
  /** CU-milliseconds per calendar month (UTC); the API shows CU-hours. */
  cuMsPerMonth: number | null;
  storageBytes: number | null;
}

export const UNLIMITED: Quota = { cuMsPerMonth: null, storageBytes: null };

export interface ProjectRecord {
  id: string;
  name: string;
  createdAt: string;
  ownerUser: string;
  /** '*' + HEX(SHA1(SHA1(password))), as MariaDB stores it. */
  ownerVerifier: string;
  computeId: string | null;
  /** Compute ids are never reused, so a proxy's cached address for a deleted one cannot match a new one. */
  computeSeq: number;
  /** The sizes its compute is kept within (milli-CU). */
  range: SizeRange;
  quota: Quota;
}

export interface ComputeRecord {
  id: string;
  projectId: string;
  state: ComputeState;
  /** Where it listens while active or frozen; shown only while active. */
  endpoint?: ComputeEndpoint;
  createdAt: string;
  updatedAt: string;
  lastError?: string;
  /** Real driver resumes; coalesced wakes do not count. */
  resumeCount: number;
  /** The control plane's login to the compute (role reading); absent on computes provisioned before it. */
  control?: ControlLogin;
  /** Bumped by every change: a change applies only to the version it was decided on. */
  version: number;
  claim?: ComputeClaim;
  /** The control plane watching it while it runs or is frozen (it started or adopted it). */
  owner?: string;
  /** Where its data and process live (the driver's placement); only control planes there can operate it. */
  placement?: string;
  /** The last wake answered for it (Unix ms): a proxy may connect with that answer for a while. */
  lastWakeAt?: number;
  /** Its size (milli-CU): the one it runs at, or ran at last. */
  sizeMilli: number;
}

export interface ComputeView {
  id: string;
  projectId: string;
  state: ComputeState;
  host?: string;
  port?: number;
  updatedAt: string;
  lastError?: string;
  resumeCount: number;
  /** Its size in CU: what it runs at (or ran at last). */
  cu: number;
  /** The project's range, where the answer shows it (GET compute, projects). */
  minCu?: number;
  maxCu?: number;
}

export interface QuotaView {
  cuHoursPerMonth: number | null;
  storageBytes: number | null;
}

export interface ProjectView {
  id: string;
  name: string;
  createdAt: string;
  user: string;
  minCu: number;
  maxCu: number;
  quota: QuotaView;
  compute: ComputeView | null;
}

export const PROJECT_NAME = /^[a-z][a-z0-9-]{0,38}$/;

export function projectNameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string') return 'project name must be a string';
  if (!PROJECT_NAME.test(name)) {
    return `project name '${name.slice(0, 60)}' must start with a lowercase letter and hold only lowercase letters, digits and '-' (at most 39 characters)`;
  }
  return undefined;
}

export function computeView(c: ComputeRecord, range?: SizeRange): ComputeView {
  return {
    id: c.id,
    projectId: c.projectId,
    state: c.state,
    ...(c.state === 'active' && c.endpoint ? { host: c.endpoint.host, port: c.endpoint.port } : {}),
    updatedAt: c.updatedAt,
    ...(c.lastError ? { lastError: c.lastError } : {}),
    resumeCount: c.resumeCount,
    cu: cuOf(c.sizeMilli),
    ...(range ? { minCu: cuOf(range.minMilli), maxCu: cuOf(range.maxMilli) } : {}),
  };
}

export function quotaView(q: Quota): QuotaView {
  return {
    cuHoursPerMonth: q.cuMsPerMonth === null ? null : q.cuMsPerMonth / 3_600_000,
    storageBytes: q.storageBytes,
  };
}

export function projectView(p: ProjectRecord, compute: ComputeRecord | undefined): ProjectView {
  return {
    id: p.id,
    name: p.name,
    createdAt: p.createdAt,
    user: p.ownerUser,
    minCu: cuOf(p.range.minMilli),
    maxCu: cuOf(p.range.maxMilli),
    quota: quotaView(p.quota),
    compute: compute ? computeView(compute, p.range) : null,
  };
}

/** What the idle scheduler decides on. */
export interface IdleCandidate {
  id: string;
  projectId: string;
  state: ComputeRecord['state'];
  updatedAt: string;
  lastWakeAt?: number;
}

/** What the idle scheduler may know of a compute: no address, no login. */
export function idleCandidate(c: ComputeRecord): IdleCandidate {
  return { id: c.id, projectId: c.projectId, state: c.state, updatedAt: c.updatedAt, ...(c.lastWakeAt !== undefined ? { lastWakeAt: c.lastWakeAt } : {}) };
}
