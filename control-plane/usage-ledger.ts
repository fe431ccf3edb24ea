// Compute seconds and CU-seconds per project, from the compute events the
// state store writes with every transition and every resize (by whichever
// control plane makes it; usage-periods.ts does the arithmetic). A compute
// counts while its process runs: starting, active, stopping. Frozen (SIGSTOP:
// no CPU, memory kept), stopped and failed do not count.
//
// The ledger's upkeep runs on the leader alone (leader-duties.ts): a period
// that no transition closed (a compute deleted by a control plane older than
// the store, imported from usage-events.jsonl) is closed at the moment it was
// found, so it stops counting. A compute that stopped while no control plane
// watched is counted until one noticed: the true end is unknown, and erring
// high is the honest bound.
import type { Logger } from 'pino';
import type { LeaderFence, StateStore } from './store/state-store.js';
import { runningPeriods, seconds, sumByProject, sumPeriods, type UsageByHour } from './usage-periods.js';

export class UsageLedger {
  constructor(
    private readonly store: StateStore,
    private readonly logger: Logger,
  ) {}

  /** What the project's computes ran within [fromMs, toMs), in total and per UTC hour; a running one counts up to now. */
  async projectUsage(projectId: string, fromMs: number, toMs: number, byHour: boolean, now = Date.now()): Promise<UsageByHour> {
    const events = await this.store.projectEvents(projectId, toMs);
    return sumPeriods(runningPeriods(events, fromMs, toMs, now), byHour);
  }

  /** Every project's usage within [fromMs, toMs), deleted ones too: what a billing system invoices from. */
  async allUsage(fromMs: number, toMs: number, byHour: boolean, now = Date.now()): Promise<Map<string, UsageByHour>> {
    const events = await this.store.usageEvents(toMs);
    return sumByProject(runningPeriods(events, fromMs, toMs, now), byHour);
  }

  /** Seconds the project's computes ran within [fromMs, toMs). */
  async computeSeconds(projectId: string, fromMs: number, toMs: number, now = Date.now()): Promise<number> {
    return seconds((await this.projectUsage(projectId, fromMs, toMs, false, now)).total);
  }

  /** The leader's upkeep: closes running periods of computes that no longer exist or no longer run. */
  async closeDangling(me: string, fence: LeaderFence): Promise<number> {
    const [open, computes] = await Promise.all([this.store.openRunningPeriods(), this.store.listComputes()]);
    const states = new Map(computes.map((c) => [c.id, c]));
    let closed = 0;
    for (const period of open) {
      const c = states.get(period.computeId);
      const ends = endOf(c?.state, c?.claim !== undefined);
      if (!ends) continue;
      await this.store.closeRunningPeriod(period, ends, { at: Date.now(), by: me, fence });
      closed++;
      this.logger.info({ computeId: period.computeId, projectId: period.projectId, since: new Date(period.at).toISOString() }, 'closed a usage period no transition closed');
    }
    return closed;
  }
}

/** The state that ends a dangling period, or undefined when the period is rightly open (the compute runs, or an operation will say). */
function endOf(state: string | undefined, inFlight: boolean): 'deleted' | 'stopped' | 'frozen' | 'failed' | undefined {
  if (state === undefined) return 'deleted';
  if (inFlight) return undefined;
  return state === 'stopped' || state === 'frozen' || state === 'failed' ? state : undefined;
}
