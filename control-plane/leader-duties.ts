// What only the leader does, started when a term begins and stopped when it
// ends (leader-election.ts):
//   - adoption: claims left by control planes that are gone are taken over,
//     running computes nobody alive watches are observed and watched (at the
//     start of the term, then every sweep interval);
//   - the usage ledger's upkeep (usage-ledger.ts);
//   - forgetting control planes gone for long;
//   - stopping computes of projects over their quota (every quotaIntervalMs);
//   - the idle scheduler and the autoscaler, a new one each per term, fenced by the term's epoch;
//   - the health prober of active computes, likewise.
import type { Logger } from 'pino';
import type { ControlPlaneService } from './control-plane-service.js';
import type { Autoscaler } from './autoscaler.js';
import type { IdleScheduler } from './idle-scheduler.js';
import type { ComputeProber } from './compute-prober.js';
import type { InstanceRegistry } from './instance-registry.js';
import type { LeaderElection } from './leader-election.js';
import type { ControlPlaneMetrics } from './metrics.js';
import type { LeaderFence } from './store/state-store.js';
import type { UsageLedger } from './usage-ledger.js';

export interface LeaderDutiesOptions {
  election: LeaderElection;
  service: ControlPlaneService;
  ledger: UsageLedger;
  instances: InstanceRegistry;
  /** The idle scheduler for a term; absent when the scheduler is off. */
  makeScheduler?: (fence: () => LeaderFence | undefined) => IdleScheduler;
  /** The autoscaler for a term; absent when autoscaling is off. */
  makeAutoscaler?: (fence: () => LeaderFence | undefined) => Autoscaler;
  /** Stops computes over their quota (quota-enforcer.ts); absent: quotas only refuse wakes. */
  enforceQuotas?: (fence: LeaderFence) => Promise<number>;
  /** How often enforceQuotas runs; default 30000. */
  quotaIntervalMs?: number;
  /** The health prober for a term; absent when probing is off. */
  makeProber?: (fence: () => LeaderFence | undefined) => ComputeProber;
  /** How often the sweeps run during a term. */
  sweepIntervalMs: number;
  /** Control planes silent this long are forgotten (their rows removed). */
  forgetAfterMs: number;
  logger: Logger;
  metrics: ControlPlaneMetrics;
}

interface Term {
  epoch: number;
  scheduler?: IdleScheduler;
  autoscaler?: Autoscaler;
  prober?: ComputeProber;
  timer?: NodeJS.Timeout;
}

export class LeaderDuties {
  private term: Term | undefined;
  private switching: Promise<void> = Promise.resolve();
  private sweeping: Promise<void> | undefined;
  private closed = false;
  private quotasCheckedAt = 0;

  constructor(private readonly opts: LeaderDutiesOptions) {
    opts.election.onChange((epoch) => {
      this.switching = this.switching.then(() => this.switchTo(epoch));
    });
  }

  /** The current term's idle scheduler (on the leader, with the scheduler on). */
  get scheduler(): IdleScheduler | undefined {
    return this.term?.scheduler;
  }

  /** The current term's autoscaler (on the leader, with autoscaling on). */
  get autoscaler(): Autoscaler | undefined {
    return this.term?.autoscaler;
  }

  /** Resolves once the last change of leadership has taken effect (the first adoption sweep included). */
  settled(): Promise<void> {
    return this.switching;
  }

  /** One sweep now (tests, and the start of a term); concurrent calls share it. */
  sweep(): Promise<void> {
    this.sweeping ??= this.sweepOnce().finally(() => (this.sweeping = undefined));
    return this.sweeping;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.switching;
    await this.endTerm();
  }

  private async switchTo(epoch: number | undefined): Promise<void> {
    await this.endTerm();
    this.opts.metrics.leader.set(epoch === undefined ? 0 : 1);
    if (epoch === undefined || this.closed) return;
    const term: Term = { epoch };
    this.term = term;
    // Before the scheduler looks at anything: what the last leader left is taken over first.
    await this.sweep();
    if (this.term !== term) return;
    const fence = () => {
      const f = this.opts.election.fence();
      return f && f.epoch === epoch ? f : undefined;
    };
    term.scheduler = this.opts.makeScheduler?.(fence);
    term.scheduler?.start();
    term.autoscaler = this.opts.makeAutoscaler?.(fence);
    term.autoscaler?.start();
    term.prober = this.opts.makeProber?.(fence);
    term.timer = setInterval(() => void this.sweep(), this.opts.sweepIntervalMs).unref();
  }

  private async endTerm(): Promise<void> {
    const term = this.term;
    if (!term) return;
    this.term = undefined;
    clearInterval(term.timer);
    term.prober?.close();
    await term.scheduler?.close();
    await term.autoscaler?.close();
    await this.sweeping;
  }

  private async sweepOnce(): Promise<void> {
    const fence = this.opts.election.fence();
    if (!fence) return;
    const log = this.opts.logger;
    try {
      const adopted = await this.opts.service.adoptOrphans();
      if (adopted > 0) log.info({ adopted }, 'adopted computes left by control planes that are gone');
    } catch (err) {
      log.warn({ err }, 'adoption sweep failed');
    }
    await this.opts.ledger.closeDangling(this.opts.instances.id, fence).catch((err: unknown) => log.warn({ err }, 'usage ledger upkeep failed'));
    if (this.opts.enforceQuotas && Date.now() - this.quotasCheckedAt >= (this.opts.quotaIntervalMs ?? 30_000)) {
      this.quotasCheckedAt = Date.now();
      await this.opts.enforceQuotas(fence).catch((err: unknown) => log.warn({ err }, 'quota enforcement failed'));
    }
    try {
      for (const gone of await this.opts.instances.deadFor(this.opts.forgetAfterMs)) {
        await this.opts.instances.forget(gone.id);
        log.info({ instance: gone.id, host: gone.host }, 'forgot a control plane that is gone');
      }
    } catch (err) {
      log.warn({ err }, 'could not forget gone control planes');
    }
  }
}
