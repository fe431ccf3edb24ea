// A project's roles: what GET /api/v1/projects/{id}/roles?user= answers, so the
// proxy can check a password before it wakes anything.
//
// A project's roles are its compute's accounts as last read (compute-accounts.ts),
// or, until the first read, its owner alone (whose verifier is kept from creation).
// Reads go through the compute's control account (control-account.ts) and happen
// only while the compute is active, never waking it:
//   - right after it becomes active (a resume, or adopted at start);
//   - every refreshIntervalMs while it stays active (a sweep, a few computes at a time);
//   - just before it is suspended, inside its operation queue, so what was
//     created or changed while it was awake is served while it sleeps;
//   - on demand, when asked for a user the state does not know, at most once per
//     project per onDemandIntervalMs and waited for at most onDemandWaitMs.
// A compute provisioned before control accounts existed has none: only its
// owner is served (said once in the log).
//
// Verifiers are kept in the state file (0600) like /etc/shadow keeps hashes, and
// never logged.
import type { Logger } from 'pino';
import { notFound } from './api-error.js';
import { withDeadline } from './compute-lifecycle.js';
import { readGlobalPriv, rolesFromGlobalPriv, type ComputeAccounts, type StoredRole } from '../accounts/compute-accounts.js';
import { CONTROL_USER } from './control-account.js';
import type { ComputeRecord, ProjectRecord } from './records.js';
import type { ComputeEvent } from './usage-ledger.js';
import { NATIVE_PASSWORD_PLUGIN } from '../protocol/auth/native-password.js';

export interface ComputeRoleOptions {
  /** Re-read every active compute this often; default 30000; 0 turns the sweep off. */
  refreshIntervalMs?: number;
  /** Bound on one read, connect to answer; default 5000. */
  readTimeoutMs?: number;
  /** An unknown user causes at most one read per project per this long; default 2000. */
  onDemandIntervalMs?: number;
  /** How long a lookup waits for its on-demand read before answering from the state; default 3000. */
  onDemandWaitMs?: number;
  /** Background reads (sweep, after a resume) at once, over all computes; default 4. */
  concurrency?: number;
}

export interface ComputeRoleDeps {
  projects: ReadonlyMap<string, ProjectRecord>;
  computes: ReadonlyMap<string, ComputeRecord>;
  /** Saves state; called when a read changed a compute's roles. */
  persist: () => Promise<void>;
  logger: Logger;
}

/** The route's 200 body. `verifier` only for mysql_native_password ('' = no password). */
export interface RoleAnswer {
  user: string;
  plugin: string;
  verifier?: string;
}

/** MariaDB user names are at most 128 characters; longer ones cannot exist, so never cause a read. */
const MAX_USER_LENGTH = 128;
const RESERVED = new Set([CONTROL_USER]);

export class ComputeRoles {
  private readonly refreshIntervalMs: number;
  private readonly readTimeoutMs: number;
  private readonly onDemandIntervalMs: number;
  private readonly onDemandWaitMs: number;
  private readonly concurrency: number;
  private readonly reads = new Map<string, ComputeReads>();
  private readonly lastOnDemand = new Map<string, number>();
  /** Computes whose last read failed (warned once) or that have no control account (said once). */
  private readonly failing = new Set<string>();
  private readonly noControl = new Set<string>();
  private readonly indexes = new WeakMap<ComputeAccounts, Map<string, StoredRole>>();
  private readonly slotWaiters: Array<() => void> = [];
  private backgroundRunning = 0;
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly d: ComputeRoleDeps,
    o: ComputeRoleOptions = {},
  ) {
    this.refreshIntervalMs = o.refreshIntervalMs ?? 30_000;
    this.readTimeoutMs = o.readTimeoutMs ?? 5_000;
    this.onDemandIntervalMs = o.onDemandIntervalMs ?? 2_000;
    this.onDemandWaitMs = o.onDemandWaitMs ?? 3_000;
    this.concurrency = Math.max(1, o.concurrency ?? 4);
  }

  /** Starts the periodic sweep (unref'd: it never keeps the process alive). */
  start(): void {
    if (this.refreshIntervalMs <= 0 || this.timer || this.closed) return;
    this.timer = setInterval(() => {
      this.sweeping ??= this.sweep().finally(() => (this.sweeping = undefined));
    }, this.refreshIntervalMs).unref();
  }

  /** The project's role for `user`; 404 project_not_found / role_not_found. Never wakes a compute. */
  async lookup(projectId: string, user: string, fresh = false): Promise<RoleAnswer> {
    const asked = performance.now();
    const project = this.d.projects.get(projectId);
    if (!project) throw notFound('project_not_found', `project '${projectId}' does not exist`);
    const known = this.find(project, user);
    if (known && !fresh) return known;
    const compute = this.onDemandTarget(project, user);
    if (compute) {
      await withDeadline(this.read(compute.id, asked), this.onDemandWaitMs, () => new Error('on-demand read still running')).catch(
        (err: unknown) => this.d.logger.debug({ err, projectId, computeId: compute.id }, 'on-demand role read gave no answer in time'),
      );
      const found = this.find(project, user);
      if (found) return found;
    } else if (known) {
      return known; // asleep, or read on demand a moment ago: the stored answer stands
    }
    throw notFound('role_not_found', `project '${projectId}' has no user '${user.slice(0, MAX_USER_LENGTH)}'`);
  }

  /** Told every compute transition: an active compute is read at once; a deleted one forgotten. */
  computeEvent(e: ComputeEvent): void {
    if (this.closed) return;
    if (e.state === 'active') {
      const since = performance.now();
      void this.inBackground(() => this.read(e.computeId, since));
    } else if (e.state === 'deleted') {
      this.reads.delete(e.computeId);
      this.failing.delete(e.computeId);
      this.noControl.delete(e.computeId);
    }
  }

  /** Awaited in the compute's queue before a suspend: one fresh read, bounded, never throws. */
  async beforeSuspend(c: ComputeRecord): Promise<void> {
    if (this.closed || c.state !== 'active' || !c.control) return;
    const since = performance.now();
    // Twice the read bound: a read already under way is waited for, then a fresh one made.
    await withDeadline(this.read(c.id, since), 2 * this.readTimeoutMs, () => new Error('read before suspend still running')).catch(
      (err: unknown) =>
        this.d.logger.warn({ err, computeId: c.id, projectId: c.projectId }, 'could not read accounts before suspend; keeping the last read'),
    );
  }

  /** Stops the sweep; with readFirst, reads every active compute once more (bounded); waits for reads under way. */
  async close(opts: { readFirst?: boolean } = {}): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (opts.readFirst && !this.closed) {
      const since = performance.now();
      const active = [...this.d.computes.values()].filter((c) => c.state === 'active' && c.control);
      await Promise.all(active.map((c) => this.read(c.id, since).catch(() => {})));
    }
    this.closed = true;
    for (const wake of this.slotWaiters.splice(0)) wake();
    await Promise.all([this.sweeping, ...[...this.reads.values()].map((r) => r.settled())]);
  }

  private find(project: ProjectRecord, user: string): RoleAnswer | undefined {
    const compute = project.computeId ? this.d.computes.get(project.computeId) : undefined;
    if (compute?.accounts) {
      const role = this.index(compute.accounts).get(user);
      return role && answer(role);
    }
    if (user === project.ownerUser) return { user, plugin: NATIVE_PASSWORD_PLUGIN, verifier: project.ownerVerifier };
    return undefined;
  }

  /** The compute to read for an unknown user, if it is awake, readable and not read on demand lately. */
  private onDemandTarget(project: ProjectRecord, user: string): ComputeRecord | undefined {
    if (RESERVED.has(user) || user.length > MAX_USER_LENGTH || this.closed) return undefined;
    const compute = project.computeId ? this.d.computes.get(project.computeId) : undefined;
    if (!compute || compute.state !== 'active' || !compute.endpoint || !compute.control) return undefined;
    const now = performance.now();
    const last = this.lastOnDemand.get(project.id);
    if (last !== undefined && now - last < this.onDemandIntervalMs) return undefined;
    this.lastOnDemand.set(project.id, now);
    return compute;
  }

  private index(accounts: ComputeAccounts): Map<string, StoredRole> {
    let index = this.indexes.get(accounts);
    if (!index) this.indexes.set(accounts, (index = new Map(accounts.roles.map((r) => [r.user, r]))));
    return index;
  }

  /** A read of the compute that started at or after `notBefore` (one at a time per compute). */
  private read(computeId: string, notBefore: number): Promise<void> {
    let reads = this.reads.get(computeId);
    if (!reads) this.reads.set(computeId, (reads = new ComputeReads(() => this.readNow(computeId))));
    return reads.atLeastFrom(notBefore);
  }

  private async readNow(computeId: string): Promise<void> {
    const c = this.d.computes.get(computeId);
    if (!c || c.state !== 'active' || !c.endpoint) return;
    if (!c.control) {
      if (!this.noControl.has(c.id)) {
        this.noControl.add(c.id);
        this.d.logger.info(
          { computeId: c.id, projectId: c.projectId },
          'compute has no control account (provisioned before role reading): only its owner is served as a role',
        );
      }
      return;
    }
    let rows;
    try {
      rows = await readGlobalPriv(c.endpoint, c.control, this.readTimeoutMs);
    } catch (err) {
      const fields = { err, computeId: c.id, projectId: c.projectId };
      // A compute suspended or gone while being read is no news; a readable one that fails is, once.
      if (c.state !== 'active' || this.failing.has(c.id)) this.d.logger.debug(fields, 'could not read compute accounts');
      else this.d.logger.warn(fields, 'could not read compute accounts; serving the last read');
      if (c.state === 'active') this.failing.add(c.id);
      throw err;
    }
    if (this.failing.delete(c.id)) this.d.logger.info({ computeId: c.id, projectId: c.projectId }, 'compute accounts readable again');
    const { roles, dropped } = rolesFromGlobalPriv(rows, RESERVED);
    if (dropped) this.d.logger.warn({ computeId: c.id, projectId: c.projectId, dropped }, 'compute has more users than are served as roles');
    const change = diff(c.accounts?.roles, roles);
    c.accounts = { readAt: new Date().toISOString(), roles };
    if (!change) return;
    // Names and counts only: verifiers stay out of logs.
    this.d.logger.info({ computeId: c.id, projectId: c.projectId, users: roles.length, ...change }, 'compute roles updated');
    await this.d.persist().catch((err: unknown) => this.d.logger.error({ err, computeId: c.id }, 'could not save compute roles'));
  }

  private async sweep(): Promise<void> {
    const since = performance.now();
    const due = [...this.d.computes.values()].filter((c) => c.state === 'active' && c.control);
    await Promise.all(due.map((c) => this.inBackground(() => this.read(c.id, since))));
  }

  /** Runs `fn` when one of `concurrency` background slots is free; never rejects. */
  private async inBackground(fn: () => Promise<void>): Promise<void> {
    while (this.backgroundRunning >= this.concurrency && !this.closed) {
      await new Promise<void>((resolve) => this.slotWaiters.push(resolve));
    }
    if (this.closed) return;
    this.backgroundRunning++;
    try {
      await fn();
    } catch {
      // readNow logged it.
    } finally {
      this.backgroundRunning--;
      this.slotWaiters.shift()?.();
    }
  }
}

/**
 * One compute's reads: one at a time; a caller that needs a read started at or
 * after some moment joins the running one if it is recent enough, otherwise the
 * single read queued behind it.
 */
class ComputeReads {
  private current: { startedAt: number; promise: Promise<void> } | undefined;
  private next: Promise<void> | undefined;

  constructor(private readonly readOnce: () => Promise<void>) {}

  atLeastFrom(notBefore: number): Promise<void> {
    if (!this.current) return this.begin();
    if (this.current.startedAt >= notBefore) return this.current.promise;
    this.next ??= this.current.promise
      .catch(() => {})
      .then(() => {
        this.next = undefined;
        return this.begin();
      });
    return this.next;
  }

  /** Resolves once nothing runs or waits. */
  async settled(): Promise<void> {
    while (this.current || this.next) await (this.next ?? this.current!.promise).catch(() => {});
  }

  private begin(): Promise<void> {
    const entry = { startedAt: performance.now(), promise: Promise.resolve() };
    entry.promise = this.readOnce().finally(() => {
      if (this.current === entry) this.current = undefined;
    });
    this.current = entry;
    return entry.promise;
  }
}

function answer(role: StoredRole): RoleAnswer {
  return { user: role.user, plugin: role.plugin, ...(role.verifier !== undefined ? { verifier: role.verifier } : {}) };
}

/** Counts of users added, removed and changed (plugin or verifier); undefined when the same. */
function diff(before: StoredRole[] | undefined, after: StoredRole[]): { added: number; removed: number; changed: number } | undefined {
  if (!before) return { added: after.length, removed: 0, changed: 0 };
  const old = new Map(before.map((r) => [r.user, r]));
  let added = 0;
  let changed = 0;
  for (const r of after) {
    const o = old.get(r.user);
    if (!o) added++;
    else if (o.plugin !== r.plugin || o.verifier !== r.verifier) changed++;
    old.delete(r.user);
  }
  const removed = old.size;
  return added || removed || changed ? { added, removed, changed } : undefined;
}
