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
//   - right after it becomes active (a resume, or adopted at start);
//   - every refreshIntervalMs while it stays active (a sweep, a few computes at a time);
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
// Verifiers are kept in the state file (0600) like /etc/shadow keeps hashes, and
// never logged.
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { notFound } from './api-error.js';
import { withDeadline } from './compute-lifecycle.js';
import { readAccounts } from '../accounts/compute-accounts.js';
import { DEFAULT_POLICY, NATIVE_PASSWORD, type Account, type ComputeAccounts, type UserAccounts } from '../accounts/account.js';
import { serverUserName, userAccounts } from '../accounts/user-accounts.js';
import { CONTROL_USER } from './control-account.js';
import { CoalescedReads } from '../util/coalesced-reads.js';
import type { ComputeRecord, ProjectRecord } from './records.js';
import type { ComputeEvent } from './usage-ledger.js';

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
  projects: ReadonlyMap<string, ProjectRecord>;
  computes: ReadonlyMap<string, ComputeRecord>;
  /** Saves state; called when a read changed a compute's roles. */
  persist: () => Promise<void>;
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
  private readonly noControl = new Set<string>();
  private readonly names = new WeakMap<ComputeAccounts, Set<string>>();
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
  }

  /** Starts the periodic sweep (unref'd: it never keeps the process alive). */
  start(): void {
    if (this.refreshIntervalMs <= 0 || this.timer || this.closed) return;
    this.timer = setInterval(() => {
      this.sweeping ??= this.sweep().finally(() => (this.sweeping = undefined));
    }, this.refreshIntervalMs).unref();
  }

  /** What a login by `user` is judged against; 404 project_not_found. Never wakes a compute. */
  async lookup(projectId: string, user: string, fresh = false): Promise<RoleAnswer> {
    const asked = performance.now();
    const project = this.d.projects.get(projectId);
    if (!project) throw notFound('project_not_found', `project '${projectId}' does not exist`);
    const name = serverUserName(user);
    const compute = this.readable(project);
    if (compute && !RESERVED.has(name) && (fresh || !this.known(compute, name))) {
      await withDeadline(this.read(compute.id, asked, this.onDemandIntervalMs), this.onDemandWaitMs, () => new Error('on-demand read still running')).catch(
        (err: unknown) => this.d.logger.debug({ err, projectId, computeId: compute.id }, 'on-demand account read gave no answer in time'),
      );
    }
    return this.answer(project, name);
  }
  /** Told every compute transition: an active compute is read at once; a deleted one forgotten. */
  computeEvent(e: ComputeEvent): void {
    if (this.closed) return;
    if (e.state === 'active') {
      const since = performance.now();
      void this.inBackground(() => this.read(e.computeId, since, 0));
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
      const active = [...this.d.computes.values()].filter((c) => c.state === 'active' && c.control);
      await Promise.all(active.map((c) => this.read(c.id, since, 0).catch(() => {})));
    }
    this.closed = true;
    for (const wake of this.slotWaiters.splice(0)) wake();
    await Promise.all([this.sweeping, ...[...this.reads.values()].map((r) => r.settled())]);
  }

  private answer(project: ProjectRecord, user: string): RoleAnswer {
    const accounts = this.accountsOf(project);
    if (accounts) return userAccounts(accounts.accounts, user, accounts.policy, RESERVED);
    // Never read: the owner alone, as created.
    const candidates = user === project.ownerUser ? [ownerAccount(project)] : [];
    return { user, candidates, policy: DEFAULT_POLICY };
  }

  /** The compute's last read, if it has one in the current shape (older state files kept other fields). */
  private accountsOf(project: ProjectRecord): ComputeAccounts | undefined {
    const compute = project.computeId ? this.d.computes.get(project.computeId) : undefined;
    const accounts = compute?.accounts;
    return accounts && Array.isArray(accounts.accounts) && accounts.policy ? accounts : undefined;
  }

  /** Whether the last read has an account of that very name. */
  private known(compute: ComputeRecord, user: string): boolean {
    const accounts = compute.accounts;
    if (!accounts || !Array.isArray(accounts.accounts)) return false;
    let names = this.names.get(accounts);
    if (!names) this.names.set(accounts, (names = new Set(accounts.accounts.map((a) => a.user))));
    return names.has(user);
  }

  /** The project's compute if it is awake and the control plane can read it. */
  private readable(project: ProjectRecord): ComputeRecord | undefined {
    if (this.closed) return undefined;
    const compute = project.computeId ? this.d.computes.get(project.computeId) : undefined;
    return compute && compute.state === 'active' && compute.endpoint && compute.control ? compute : undefined;
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
    const before = c.accounts && Array.isArray(c.accounts.accounts) ? c.accounts : undefined;
    const change = diff(before, read.accounts, read.policy);
    c.accounts = { readAt: new Date().toISOString(), accounts: read.accounts, policy: read.policy };
    if (!change) return;
    // Names and counts only: hashes stay out of logs.
    this.d.logger.info({ computeId: c.id, projectId: c.projectId, accounts: read.accounts.length, ...change }, 'compute accounts updated');
    await this.d.persist().catch((err: unknown) => this.d.logger.error({ err, computeId: c.id }, 'could not save compute accounts'));
  }

  private async sweep(): Promise<void> {
    const since = performance.now();
    const due = [...this.d.computes.values()].filter((c) => c.state === 'active' && c.control);
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
  return {
    user: project.ownerUser,
    host: '%',
    methods: [{ plugin: NATIVE_PASSWORD, verifier: project.ownerVerifier }],
    locked: false,
    passwordExpired: false,
    passwordLastChanged: 0,
    passwordLifetime: -1,
    ssl: 'none',
    neverBlocked: false,
    version: createHash('sha256').update(`owner\u0000${project.ownerVerifier}`).digest('base64url').slice(0, 22),
  };
}

/** Counts of accounts added, removed and changed; undefined when nothing (settings included) changed. */
function diff(
  before: ComputeAccounts | undefined,
  after: Account[],
  policy: ComputeAccounts['policy'],
): { added: number; removed: number; changed: number; settingsChanged: boolean } | undefined {
  const key = (a: Account) => `${a.user}\u0000${a.host}`;
  const old = new Map((before?.accounts ?? []).map((a) => [key(a), a.version]));
  let added = 0;
  let changed = 0;
  for (const a of after) {
    const v = old.get(key(a));
    if (v === undefined) added++;
    else if (v !== a.version) changed++;
    old.delete(key(a));
  }
  const removed = old.size;
  const settingsChanged = JSON.stringify(before?.policy) !== JSON.stringify(policy);
  return !before || added || removed || changed || settingsChanged ? { added, removed, changed, settingsChanged } : undefined;
}
