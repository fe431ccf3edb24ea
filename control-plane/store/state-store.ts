// The control plane's state: projects, computes and their transitions, the
// accounts last read from each compute, the control planes alive, and who
// leads. One interface, two backends behind it (sql-state-store.ts over SQLite
// or PostgreSQL). Every control plane sharing a store sees the same state; the
// store is the only place a compute's state changes.
//
// The rules that make several control planes safe:
//   - A compute row carries a version. `changeCompute` applies a change only if
//     the row still has the version the caller read (compare-and-set), so of two
//     control planes deciding on the same row, one wins and the other re-reads.
//   - A compute row carries a claim (the operation in flight and its holder).
//     Claiming is a change like any other, so exactly one control plane gets
//     to start, stop or freeze a compute; the others wait for the claim to be
//     released, or take it over once its holder is dead (instances).
//   - A change that enters a new state writes that state into compute_events in
//     the same transaction: the usage record and the audit of who made it.
//   - A change made for the leader (the idle scheduler) carries a fence, the
//     leader's epoch; it applies only while that epoch still leads, so a leader
//     that was paused past its lease cannot act on what it decided before.
import type { ComputeAccounts } from '../../accounts/account.js';
import type { ComputeEndpoint } from '../drivers/driver.js';
import type { SizeRange } from '../compute-size.js';
import type { ComputeOp, ComputeRecord, ComputeState, ProjectRecord, Quota } from '../records.js';
import type { LeaderLock } from './leader-lock.js';

export interface LeaderFence {
  /** The leadership (e.g. 'scheduler'). */
  name: string;
  epoch: number;
}

/** A change of a compute row; a field left undefined stays as it is. */
export interface ComputeChange {
  state?: ComputeState;
  /** The operation in flight after the change; null releases the claim. */
  claim?: { op: ComputeOp; holder: string } | null;
  endpoint?: ComputeEndpoint | null;
  lastError?: string | null;
  /** Counts one real resume. */
  resumed?: boolean;
  owner?: string | null;
  placement?: string;
  /** A wake answered now (Unix ms). */
  wokenAt?: number;
  /** Its size from now on (milli-CU); a change of size alone writes an event too (CU-seconds). */
  sizeMilli?: number;
}

/** A change of a project's settings; a field left undefined stays as it is. */
export interface ProjectChange {
  range?: SizeRange;
  quota?: Quota;
}

/** Who makes a change and when; with a fence, only while that leader epoch leads. */
export interface ChangeContext {
  /** Unix ms: the row's updatedAt and the event's time. */
  at: number;
  /** The control plane (instance id) making it. */
  by: string;
  fence?: LeaderFence;
  /** Recorded in the event without being enforced: the outcome of an operation a fenced change began. */
  epoch?: number;
}

/** One state a compute entered, as compute_events keeps it. */
export interface ComputeEvent {
  seq: number;
  at: number;
  projectId: string;
  computeId: string;
  state: ComputeState | 'deleted';
  /** Whether the compute's process runs in this state (it counts as compute time). */
  run: boolean;
  by: string;
  /** The leader epoch, when the leader made it. */
  epoch?: number;
  /** The compute's size from this event on (milli-CU): what its running time counts as. */
  cuMilli: number;
}

export interface InstanceInfo {
  id: string;
  host: string;
  pid: number;
  /** Kernel and pid namespace: instances sharing it can check each other's pid directly. */
  locality: string;
  placement: string;
  startedAt: number;
}

export interface InstanceRow extends InstanceInfo {
  /** Milliseconds since its last heartbeat, by the store's clock. */
  silentMs: number;
}

/** A change refused because the leadership it was made for has moved on. */
export class FencedError extends Error {
  override readonly name = 'FencedError';
  constructor(readonly fence: LeaderFence, readonly current: number | undefined) {
    super(`leader epoch ${fence.epoch} of '${fence.name}' no longer leads (now ${current ?? 'none'}): change refused`);
  }
}

export interface StateStore {
  readonly kind: 'sqlite' | 'postgres';
  /** Where it is, fit for logs (no password). */
  readonly location: string;

  listProjects(): Promise<ProjectRecord[]>;
  getProject(id: string): Promise<ProjectRecord | undefined>;
  /** Inserts a project with its first compute; false if a project of that id exists. */
  createProject(project: ProjectRecord, compute: ComputeRecord): Promise<boolean>;
  /** Gives a project that has no compute the new one and its next sequence number; false if it has one (or is gone). */
  addCompute(projectId: string, compute: ComputeRecord, computeSeq: number): Promise<boolean>;
  /** Removes a project (its compute must be removed first). */
  removeProject(id: string): Promise<void>;
  /** Applies the change; answers the project as it is now, or undefined if there is none. */
  updateProject(id: string, change: ProjectChange): Promise<ProjectRecord | undefined>;

  listComputes(): Promise<ComputeRecord[]>;
  getCompute(id: string): Promise<ComputeRecord | undefined>;
  /**
   * Applies the change if the row still has `version`; answers the new row, or
   * undefined if the row changed meanwhile (or is gone). Throws FencedError when
   * ctx.fence no longer leads.
   */
  changeCompute(id: string, version: number, change: ComputeChange, ctx: ChangeContext): Promise<ComputeRecord | undefined>;
  /**
   * The wake's fast path in one statement: if the compute is active with no
   * operation in flight, records the wake and answers the row; else undefined.
   */
  wakeIfActive(id: string, at: number): Promise<ComputeRecord | undefined>;
  /** Deletes the compute if it still has `version` (unlinking it from its project, event 'deleted'). */
  removeCompute(id: string, version: number, ctx: ChangeContext): Promise<boolean>;
  /** Told the id of every compute that changed, here or (PostgreSQL) in another control plane; answers an unsubscribe. */
  onComputeChange(listener: (computeId: string) => void): () => void;

  /** The compute's accounts as last read (compute-roles.ts). */
  getAccounts(computeId: string): Promise<ComputeAccounts | undefined>;
  saveAccounts(computeId: string, accounts: ComputeAccounts): Promise<void>;

  /** The greeting facts (backend/greeting-facts.ts JSON) of the compute a control plane last started, or undefined. */
  getComputeGreeting(): Promise<string | undefined>;
  saveComputeGreeting(json: string): Promise<void>;

  /** The project's events before `beforeMs`, in the order they were made. */
  projectEvents(projectId: string, beforeMs: number): Promise<ComputeEvent[]>;
  /** Every project's events before `beforeMs` (deleted projects' too), in the order they were made: the billing export. */
  usageEvents(beforeMs: number): Promise<ComputeEvent[]>;
  /** The last event of every compute whose last event has it running. */
  openRunningPeriods(): Promise<ComputeEvent[]>;
  /** Writes a closing event (not running) for a period no transition closed. */
  closeRunningPeriod(open: ComputeEvent, state: ComputeState | 'deleted', ctx: ChangeContext): Promise<void>;

  registerInstance(info: InstanceInfo): Promise<void>;
  /** Refreshes the instance's heartbeat; false if its row is gone (it was declared dead and removed). */
  heartbeat(id: string): Promise<boolean>;
  listInstances(): Promise<InstanceRow[]>;
  removeInstance(id: string): Promise<void>;

  /** The lock that elects one leader for `name`: an advisory lock on PostgreSQL, a lease row on SQLite. */
  leaderLock(name: string, holder: string, leaseMs: number): LeaderLock;

  close(): Promise<void>;
}
