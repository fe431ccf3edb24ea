// A project's accounts: what GET /api/v1/projects/{id}/roles?user= answers, so the
// proxy can judge a login as the compute would before it wakes anything: the
// user's accounts and the anonymous ones in the server's order, and the server's
// login settings (accounts/user-accounts.ts). The proxy picks among them by its
// own address.
//
// A project's accounts are its compute's accounts as last read (compute-accounts.ts),
// or, until the first read, its owner alone as 'owner'@'%' (whose verifier is kept
// from creation).
// Reads go through the compute's control account (control-account.ts) and happen
// only while the compute is active, never waking it:
//   - right after it becomes active, by the control plane that made it so (a
//     resume, or an adoption);
//   - every refreshIntervalMs while it stays active (a sweep, a few computes at
//     a time, by the leader alone: the result is in the shared state);
//   - just before it is suspended, inside its operation queue, so what was
//     created or changed while it was awake is served while it sleeps;
//   - on demand, when asked for a name with no account of its own, or with `fresh`
//     (the proxy asks so when a password did not match or no account admitted its
//     address): the answer then waits, up to onDemandWaitMs, for a read that
//     started after the question. Such reads start at most once per
//     onDemandIntervalMs per compute; every question asked meanwhile waits for the
//     one next read, so a user created a moment ago works at once and a flood of
//     unknown names costs a few reads a second.
// A compute provisioned before control accounts existed has none: only its
// owner is served (said once in the log).
//
// The same reads give the names of the compute's stored code that transaction
// pooling must pin on (accounts/stored-code.ts), served with every answer as
// `storedCode`: unknown (names null) when the compute cannot be asked (provisioned
// before the procedure that lists them; never read), so proxies pin rather than
// guess. A compute that never ran holds what provisioning put there: no such code.
//
// Verifiers are kept in the state store (a 0600 SQLite file, or PostgreSQL) like
// /etc/shadow keeps hashes, and never logged.
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { notFound } from './api-error.js';
import { withDeadline } from '../util/deadline.js';
import { readAccounts } from '../accounts/compute-accounts.js';
import { DEFAULT_POLICY, NATIVE_PASSWORD, plainAccount, privilegeVersion, type Account, type ComputeAccounts, type UserAccounts } from '../accounts/account.js';
import { serverUserName, userAccounts } from '../accounts/user-accounts.js';
import { CONTROL_USER } from './control-account.js';
import { StoredCodeNotes, storedCodeOf } from './compute-stored-code.js';
import { CoalescedReads } from '../util/coalesced-reads.js';
import type { ComputeRecord, ProjectRecord } from './records.js';
import type { ComputeTransition } from './compute-operations.js';
import type { StateStore } from './store/state-store.js';

export interface ComputeRoleOptions {
  /** Re-read every active compute this often; default 30000; 0 turns the sweep off. */
  refreshIntervalMs?: number;
  /** Bound on one read, connect to answer; default 5000. */
  readTimeoutMs?: number;
  /** On-demand reads of one compute start at most once per this long; default 250. */
  onDemandIntervalMs?: number;
  /** How long a lookup waits for its on-demand read before answering from the state; default 3000. */
  onDemandWaitMs?: number;
  /** Background reads (sweep, after a resume) at once, over all computes; default 4. */
  concurrency?: number;
}

export interface ComputeRoleDeps {
  store: StateStore;
  /** Only the leader sweeps. */
  isLeader: () => boolean;
  logger: Logger;
}

/** The route's 200 body. */
export type RoleAnswer = UserAccounts;

const RESERVED = new Set([CONTROL_USER]);

export class ComputeRoles {
  private readonly refreshIntervalMs: number;
  private readonly readTimeoutMs: number;
  private readonly onDemandIntervalMs: number;
  private readonly onDemandWaitMs: number;
  private readonly concurrency: number;
  private readonly reads = new Map<string, CoalescedReads>();
  /** Computes whose last read failed (warned once) or that have no control account (said once). */
  private readonly failing = new Set<string>();
  /** Computes said once to lack SELECT on mysql.roles_mapping for their default roles. */
  private readonly rolesUnread = new Set<string>();
  private readonly noControl = new Set<string>();
  private readonly storedCodeNotes: StoredCodeNotes;
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
    this.onDemandIntervalMs = o.onDemandIntervalMs ?? 250;
    this.onDemandWaitMs = o.onDemandWaitMs ?? 3_000;
    this.concurrency = Math.max(1, o.concurrency ?? 4);
    this.storedCodeNotes = new StoredCodeNotes(d.logger);
  }

  /** Starts the periodic sweep (unref'd: it never keeps the process alive). */
  start(): void {
    if (this.refreshIntervalMs <= 0 || this.timer || this.closed) return;
    this.timer = setInterval(() => {
      if (!this.d.isLeader()) return;
      this.sweeping ??= this.sweep()
        .catch((err: unknown) => this.d.logger.warn({ err }, 'account sweep failed'))
        .finally(() => (this.sweeping = undefined));
    }, this.refreshIntervalMs).unref();
  }

  /** What a login by `user` is judged against; 404 project_not_found. Never wakes a compute. */
  async lookup(projectId: string, user: string, fresh = false): Promise<RoleAnswer> {
    const asked = performance.now();
    const project = await this.d.store.getProject(projectId);
    if (!project) throw notFound('project_not_found', `project '${projectId}' does not exist`);
    const name = serverUserName(user);
    const compute = project.computeId ? await this.d.store.getCompute(project.computeId) : undefined;
    let accounts = compute ? await this.d.store.getAccounts(compute.id) : undefined;
    if (compute && this.readable(compute) && !RESERVED.has(name) && (fresh || !accounts?.accounts.some((a) => a.user === name))) {
      const read = await withDeadline(this.read(compute.id, asked, this.onDemandIntervalMs), this.onDemandWaitMs, () => new Error('on-demand read still running')).then(
        () => true,
        (err: unknown) => {
          this.d.logger.debug({ err, projectId, computeId: compute.id }, 'on-demand account read gave no answer in time');
          return false;
        },
      );
      if (read) accounts = await this.d.store.getAccounts(compute.id);
    }
    return this.answer(project, name, accounts, compute);
  }

  /** Told every compute transition this control plane makes: an active compute is read at once; a deleted one forgotten. */
  computeTransition(e: ComputeTransition): void {
    if (this.closed) return;
    if (e.state === 'active') {
      const since = performance.now();
      void this.inBackground(() => this.read(e.computeId, since, 0));
    } else if (e.state === 'deleted') {
      this.reads.delete(e.computeId);
      this.failing.delete(e.computeId);
      this.noControl.delete(e.computeId);
      this.storedCodeNotes.forget(e.computeId);
    }
  }

  /** Awaited in the compute's queue before a suspend: one fresh read, bounded, never throws. */
  async beforeSuspend(c: ComputeRecord): Promise<void> {
    if (this.closed || !this.readable(c)) return;
    const since = performance.now();
    // Twice the read bound: a read already under way is waited for, then a fresh one made.
    await withDeadline(this.read(c.id, since, 0), 2 * this.readTimeoutMs, () => new Error('read before suspend still running')).catch(
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
      const active = (await this.d.store.listComputes().catch(() => [])).filter((c) => this.readable(c));
      await Promise.all(active.map((c) => this.read(c.id, since, 0).catch(() => {})));
    }
    this.closed = true;
    for (const wake of this.slotWaiters.splice(0)) wake();
    await Promise.all([this.sweeping, ...[...this.reads.values()].map((r) => r.settled())]);
  }

  private answer(project: ProjectRecord, user: string, accounts: ComputeAccounts | undefined, compute: ComputeRecord | undefined): RoleAnswer {
    const storedCode = storedCodeOf(accounts, compute);
    if (accounts) return userAccounts(accounts.accounts, user, accounts.policy, RESERVED, storedCode);
    // Never read: the owner alone, as created.
    const candidates = user === project.ownerUser ? [ownerAccount(project)] : [];
    return { user, candidates, policy: DEFAULT_POLICY, storedCode };
  }

  /** Whether the compute is awake and the control plane can read it. */
  private readable(compute: ComputeRecord): boolean {
    return !this.closed && compute.state === 'active' && compute.endpoint !== undefined && compute.control !== undefined;
  }

  /**
   * A read of the compute that started at or after `notBefore` (one at a time per
   * compute); a new one starts no sooner than `gapMs` after the previous one started.
   */
  private read(computeId: string, notBefore: number, gapMs: number): Promise<void> {
    let reads = this.reads.get(computeId);
    if (!reads) this.reads.set(computeId, (reads = new CoalescedReads(() => this.readNow(computeId))));
    return reads.atLeastFrom(notBefore, gapMs);
  }

  private async readNow(computeId: string): Promise<void> {
    const c = await this.d.store.getCompute(computeId);
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
    let read;
    try {
      read = await readAccounts(c.endpoint, c.control, this.readTimeoutMs);
    } catch (err) {
      const fields = { err, computeId: c.id, projectId: c.projectId };
      // A compute suspended or gone while being read is no news; a readable one that fails is, once.
      if (c.state !== 'active' || this.failing.has(c.id)) this.d.logger.debug(fields, 'could not read compute accounts');
      else this.d.logger.warn(fields, 'could not read compute accounts; serving the last read');
      if (c.state === 'active') this.failing.add(c.id);
      throw err;
    }
    if (this.failing.delete(c.id)) this.d.logger.info({ computeId: c.id, projectId: c.projectId }, 'compute accounts readable again');
    const before = await this.d.store.getAccounts(c.id);
    // Without mysql.roles_mapping a role version is new at every read: no change to tell.
    const change = diff(before, read.accounts, read.policy, read.rolesUnread === undefined);
    // Saved every time: the read time tells other control planes how fresh it is.
    await this.d.store
      .saveAccounts(c.id, { readAt: new Date().toISOString(), accounts: read.accounts, policy: read.policy, storedCode: read.storedCode })
      .catch((err: unknown) => this.d.logger.error({ err, computeId: c.id }, 'could not save compute accounts'));
    // Names and counts only: hashes stay out of logs.
    if (change) this.d.logger.info({ computeId: c.id, projectId: c.projectId, accounts: read.accounts.length, ...change }, 'compute accounts updated');
    this.storedCodeNotes.read(c, before?.storedCode, read.storedCode);
    if (read.rolesUnread === undefined) this.rolesUnread.delete(c.id);
    else if (!this.rolesUnread.has(c.id)) {
      this.rolesUnread.add(c.id);
      this.d.logger.warn(
        { computeId: c.id, projectId: c.projectId, reason: read.rolesUnread },
        'accounts with a default role: their pooled connections serve only logins judged by the same accounts read (the control account lacks SELECT on mysql.roles_mapping: README, Pool modes)',
      );
    }
  }

  private async sweep(): Promise<void> {
    const since = performance.now();
    const due = (await this.d.store.listComputes()).filter((c) => this.readable(c));
    await Promise.all(due.map((c) => this.inBackground(() => this.read(c.id, since, 0))));
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

/** The owner as created ('owner'@'%' with the verifier kept from creation), until a first read. */
function ownerAccount(project: ProjectRecord): Account {
  const version = createHash('sha256').update(`owner\u0000${project.ownerVerifier}`).digest('base64url').slice(0, 22);
  return plainAccount(project.ownerUser, '%', [{ plugin: NATIVE_PASSWORD, verifier: project.ownerVerifier }], version);
}

/** Counts of accounts added, removed and changed; undefined when nothing (settings included) changed. */
function diff(
  before: ComputeAccounts | undefined,
  after: Account[],
  policy: ComputeAccounts['policy'],
  withRoles: boolean,
): { added: number; removed: number; changed: number; settingsChanged: boolean } | undefined {
  const key = (a: Account) => `${a.user}\u0000${a.host}`;
  const version = (a: Account) => (withRoles ? privilegeVersion(a) : a.version);
  const old = new Map((before?.accounts ?? []).map((a) => [key(a), version(a)]));
  let added = 0;
  let changed = 0;
  for (const a of after) {
    const v = old.get(key(a));
    if (v === undefined) added++;
    else if (v !== version(a)) changed++;
    old.delete(key(a));
  }
  const removed = old.size;
  const settingsChanged = JSON.stringify(before?.policy) !== JSON.stringify(policy);
  return !before || added || removed || changed || settingsChanged ? { added, removed, changed, settingsChanged } : undefined;
}
