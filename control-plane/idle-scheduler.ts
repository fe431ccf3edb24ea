// The janitor that makes computes sleep on their own. Every check interval it
// reads the activity store once for all awake computes and suspends those the
// idle rule (idle-decision.ts) picks. It errs towards staying awake:
//
// - the store cannot be read: nothing is suspended;
// - the store lost its data (a new epoch): nothing is suspended until every
//   live proxy has had time to report again;
// - this control plane just became the leader: wakes answered before may have
//   gone unrecorded, so every compute counts as woken when its term began;
// - the suspend itself runs in the compute's operation queue and re-reads the
//   activity there, and applies only if no wake changed the compute meanwhile
//   (on any control plane): a wake that got in first wins, a wake that comes
//   later waits for the suspend, then resumes the compute.
//
// It runs only on the leader (leader-duties.ts), one instance per term; every
// suspend carries the term's fence, so a leader paused past its lease and
// resumed cannot act on what it decided before.
import type { Logger } from 'pino';
import { REPORT_TTL_INTERVALS, type ActivitySnapshot, type ActivityStore } from '../activity/activity-store.js';
import type { IdleCandidate } from './records.js';
import type { SuspendTier } from './drivers/driver.js';
import { defaultCheckIntervalMs, idleTier, type IdleRules } from './idle-decision.js';
import type { ControlPlaneMetrics } from './metrics.js';
import type { ComputeView } from './records.js';
import { FencedError, type LeaderFence } from './store/state-store.js';
import { PeriodicPass } from './periodic-pass.js';

/** What the scheduler needs from the control plane (ControlPlaneService provides it). */
export interface IdleTargets {
  idleCandidates(): Promise<IdleCandidate[]>;
  /** Suspends only if `stillIdle` agrees once no operation is in flight and nothing changed since; undefined if it did not. */
  suspendComputeIf(id: string, tier: SuspendTier, stillIdle: (c: IdleCandidate) => Promise<boolean>, fence: LeaderFence): Promise<ComputeView | undefined>;
}

export interface IdleSchedulerOptions extends IdleRules {
  targets: IdleTargets;
  /** The leader's fence now; undefined once it no longer leads (then nothing is suspended). */
  fence: () => LeaderFence | undefined;
  store: ActivityStore;
  /** The proxies' report interval: after a store epoch starts, wait this times REPORT_TTL_INTERVALS. */
  reportIntervalMs: number;
  checkIntervalMs?: number;
  logger: Logger;
  metrics?: ControlPlaneMetrics;
}

export interface IdleSuspension {
  computeId: string;
  tier: SuspendTier;
}

export class IdleScheduler {
  readonly checkIntervalMs: number;
  private readonly startedAt = Date.now();
  private readonly passes: PeriodicPass<IdleSuspension[]>;
  private storeUnreadable = false;
  private warmingEpoch: number | undefined;

  constructor(private readonly o: IdleSchedulerOptions) {
    this.checkIntervalMs = o.checkIntervalMs ?? defaultCheckIntervalMs(o.idleTimeoutMs);
    this.passes = new PeriodicPass(
      () => this.checkOnce(),
      (err) => {
        this.o.logger.error({ err }, 'idle scheduler pass failed');
        return [];
      },
      this.checkIntervalMs,
    );
  }

  start(): void {
    this.passes.start();
    this.o.logger.info(
      { idleTimeoutMs: this.o.idleTimeoutMs, coldTimeoutMs: this.o.coldTimeoutMs, checkIntervalMs: this.checkIntervalMs, store: this.o.store.kind },
      'idle scheduler started',
    );
  }

  /** One pass; never rejects. Concurrent calls share the pass under way. */
  check(): Promise<IdleSuspension[]> {
    return this.passes.now();
  }

  close(): Promise<void> {
    return this.passes.close();
  }

  private async checkOnce(): Promise<IdleSuspension[]> {
    if (!this.o.fence()) return [];
    const awake = (await this.o.targets.idleCandidates()).filter((c) => c.state === 'active' || c.state === 'frozen');
    if (awake.length === 0) return [];
    const snapshot = await this.readStore(awake.map((c) => c.projectId));
    if (!snapshot) return [];
    const now = Date.now();
    const picks = awake.flatMap((c) => {
      const tier = this.tierFor(c, snapshot, now);
      return tier ? [{ computeId: c.id, tier }] : [];
    });
    const done = await Promise.all(picks.map((p) => this.suspend(p)));
    return done.filter((p): p is IdleSuspension => p !== undefined);
  }

  /** The snapshot, or undefined when it cannot prove anything idle. */
  private async readStore(projects: string[]): Promise<ActivitySnapshot | undefined> {
    let snapshot: ActivitySnapshot;
    try {
      snapshot = await this.o.store.readActivity(projects);
    } catch (err) {
      this.o.metrics?.idleChecks.inc({ outcome: 'store_unreadable' });
      if (!this.storeUnreadable) {
        this.storeUnreadable = true;
        this.o.logger.warn({ err: (err as Error).message }, 'activity store unreadable: suspending nothing until it is back');
      }
      return undefined;
    }
    if (this.storeUnreadable) {
      this.storeUnreadable = false;
      this.o.logger.info('activity store readable again');
    }
    const graceMs = this.o.reportIntervalMs * REPORT_TTL_INTERVALS;
    if (Date.now() - snapshot.epochStartedAt < graceMs) {
      this.o.metrics?.idleChecks.inc({ outcome: 'store_warming' });
      if (this.warmingEpoch !== snapshot.epochStartedAt) {
        this.warmingEpoch = snapshot.epochStartedAt;
        this.o.logger.info({ graceMs }, 'activity store has started afresh: waiting for every proxy to report before suspending');
      }
      return undefined;
    }
    this.o.metrics?.idleChecks.inc({ outcome: 'ok' });
    return snapshot;
  }

  private tierFor(c: IdleCandidate, snapshot: ActivitySnapshot, now: number): SuspendTier | undefined {
    return idleTier(
      {
        state: c.state,
        since: Date.parse(c.updatedAt),
        lastWakeAt: Math.max(this.startedAt, c.lastWakeAt ?? 0),
        clients: snapshot.clients.get(c.projectId) ?? 0,
        lastActiveAt: snapshot.lastActive.get(c.projectId),
      },
      this.o,
      now,
    );
  }

  private async suspend(pick: IdleSuspension): Promise<IdleSuspension | undefined> {
    let idleMs = 0;
    const fence = this.o.fence();
    if (!fence) return undefined;
    // Runs inside the compute's queue: decide again on fresh facts.
    const stillIdle = async (c: IdleCandidate) => {
      const fresh = await this.readStore([c.projectId]);
      if (!fresh) return false;
      const now = Date.now();
      if (this.tierFor(c, fresh, now) !== pick.tier) return false;
      const last = pick.tier === 'stop' && c.state === 'frozen' ? Date.parse(c.updatedAt) : this.lastUse(c, fresh);
      idleMs = now - last;
      return true;
    };
    try {
      const result = await this.o.targets.suspendComputeIf(pick.computeId, pick.tier, stillIdle, fence);
      if (!result) return undefined;
      this.o.metrics?.idleSuspends.inc({ tier: pick.tier });
      this.o.metrics?.idleSuspendLagSeconds.observe({ tier: pick.tier }, idleMs / 1000);
      this.o.logger.info({ computeId: pick.computeId, tier: pick.tier, idleMs }, 'idle compute suspended');
      return pick;
    } catch (err) {
      if (err instanceof FencedError) {
        this.o.metrics?.idleChecks.inc({ outcome: 'fenced' });
        this.o.logger.warn({ computeId: pick.computeId, tier: pick.tier, epoch: fence.epoch, now: err.current }, 'idle suspend refused: another control plane leads now');
      } else {
        this.o.logger.warn({ err, computeId: pick.computeId, tier: pick.tier }, 'idle suspend failed');
      }
      return undefined;
    }
  }

  private lastUse(c: IdleCandidate, s: ActivitySnapshot): number {
    const wake = Math.max(this.startedAt, c.lastWakeAt ?? 0);
    return Math.max(Date.parse(c.updatedAt), wake, s.lastActive.get(c.projectId) ?? 0);
  }
}
