// One leader among the control planes sharing a store: it runs the idle
// scheduler, the usage ledger's upkeep and the adoption of orphaned computes
// (leader-duties.ts). The lock (store/leader-lock.ts, store/advisory-lock.ts)
// is tried or renewed every quarter lease. Leadership ends:
//   - when the lock is lost (another holds it, or the store says so);
//   - on this process's own clock, one lease after the last renewal was *sent*,
//     whatever the store says: a process paused past its lease (SIGSTOP, a long
//     GC) wakes up knowing it no longer leads, before it acts.
// Every change made for the leader also carries its epoch (fence), which the
// store checks: the second line of defence if this clock is fooled.
import type { Logger } from 'pino';
import type { LeaderLock } from './store/leader-lock.js';
import type { LeaderFence } from './store/state-store.js';

export interface LeaderElectionOptions {
  /** The leadership's name (and its fence's). */
  name: string;
  leaseMs: number;
  logger: Logger;
}

/** Leadership ends this long before the lease would, for timer and clock jitter. */
const MARGIN = 0.1;

export class LeaderElection {
  private epoch: number | undefined;
  private validUntil = 0;
  private readonly listeners: Array<(epoch: number | undefined) => void> = [];
  private tickTimer: NodeJS.Timeout | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private failing = false;
  private warned = false;
  private closed = false;

  constructor(
    private readonly lock: LeaderLock,
    private readonly opts: LeaderElectionOptions,
  ) {}

  /** Whether this instance leads now, by its own clock. */
  get leading(): boolean {
    return this.epoch !== undefined && performance.now() < this.validUntil;
  }

  /** The fence for a change made now as leader; undefined when not leading. */
  fence(): LeaderFence | undefined {
    return this.leading ? { name: this.opts.name, epoch: this.epoch! } : undefined;
  }

  /** Told the new epoch when leadership starts (or restarts with a new epoch), undefined when it ends. */
  onChange(listener: (epoch: number | undefined) => void): void {
    this.listeners.push(listener);
  }

  start(): void {
    const every = Math.max(50, Math.round(this.opts.leaseMs / 4));
    this.tickTimer = setInterval(() => void this.tick(), every).unref();
  }

  /** One attempt to take or renew the lock; concurrent calls share it. */
  tick(): Promise<void> {
    this.ticking ??= this.tryOnce().finally(() => (this.ticking = undefined));
    return this.ticking;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.tickTimer);
    clearTimeout(this.expiryTimer);
    await this.ticking;
    this.set(undefined, 'closing');
    await this.lock.release().catch((err: unknown) => this.opts.logger.warn({ err }, 'could not release the leadership'));
  }

  private async tryOnce(): Promise<void> {
    if (this.closed) return;
    const sent = performance.now();
    let epoch: number | undefined;
    try {
      epoch = await this.lock.acquireOrRenew();
      if (this.failing) this.opts.logger.info({ leadership: this.opts.name }, 'leader lock reachable again');
      this.failing = false;
    } catch (err) {
      // Keep what is held until it expires by this clock: one failed renewal is no reason to stop leading.
      if (!this.failing) this.opts.logger.warn({ err, leadership: this.opts.name }, 'could not take or renew the leader lock');
      this.failing = true;
      return;
    }
    if (this.lock.warning && !this.warned) {
      this.warned = true;
      this.opts.logger.warn({ leadership: this.opts.name }, this.lock.warning);
    }
    if (this.closed) return;
    if (epoch === undefined) {
      this.set(undefined, 'another control plane holds the lock');
      return;
    }
    this.validUntil = sent + this.opts.leaseMs * (1 - MARGIN);
    clearTimeout(this.expiryTimer);
    this.expiryTimer = setTimeout(() => {
      if (!this.leading) this.set(undefined, 'lease ran out before it was renewed');
    }, Math.max(0, this.validUntil - performance.now()) + 1).unref();
    this.set(epoch, 'lock taken');
  }

  private set(epoch: number | undefined, why: string): void {
    if (epoch === this.epoch) return;
    const before = this.epoch;
    this.epoch = epoch;
    if (epoch === undefined) this.validUntil = 0;
    if (epoch !== undefined) this.opts.logger.info({ leadership: this.opts.name, epoch }, 'this control plane leads now');
    else if (before !== undefined && this.closed) this.opts.logger.info({ leadership: this.opts.name, epoch: before }, 'leadership given up: closing');
    else if (before !== undefined) this.opts.logger.warn({ leadership: this.opts.name, epoch: before, why }, 'this control plane no longer leads');
    for (const l of this.listeners) l(epoch);
  }
}
