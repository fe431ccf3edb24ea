// What an operator watches on the control plane, served at /metrics. Like the
// proxy's metrics: no per-project labels, so label values stay a small set.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface ControlPlaneMetrics {
  registry: Registry;
  /** Computes the idle scheduler suspended, by tier (freeze, stop). */
  idleSuspends: Counter<'tier'>;
  /** Scheduler passes by outcome: ok, store_unreadable (suspends nothing), store_warming (new epoch); fenced: a suspend refused because another control plane leads now. */
  idleChecks: Counter<'outcome'>;
  /** 1 while this control plane leads (runs the scheduler, adoption and the ledger's upkeep). */
  leader: Gauge;
  /** Time from the last use the scheduler knew of to the suspend it made, by tier. */
  idleSuspendLagSeconds: Histogram<'tier'>;
}

export function createControlPlaneMetrics(registry = new Registry()): ControlPlaneMetrics {
  return {
    registry,
    idleSuspends: new Counter({
      name: 'wakeproxy_scheduler_suspends_total',
      help: 'Computes suspended by the idle scheduler, by tier',
      labelNames: ['tier'],
      registers: [registry],
    }),
    idleChecks: new Counter({
      name: 'wakeproxy_scheduler_checks_total',
      help: 'Idle scheduler passes, by outcome (ok, store_unreadable, store_warming), and suspends refused because another control plane leads (fenced)',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    leader: new Gauge({
      name: 'wakeproxy_control_plane_leader',
      help: '1 while this control plane is the leader (idle scheduler, adoption, usage upkeep), else 0',
      registers: [registry],
    }),
    idleSuspendLagSeconds: new Histogram({
      name: 'wakeproxy_scheduler_idle_seconds_at_suspend',
      help: 'How long a compute had been unused (freeze) or frozen (stop) when the scheduler suspended it',
      labelNames: ['tier'],
      buckets: [1, 5, 15, 60, 300, 600, 1800, 3600, 7200],
      registers: [registry],
    }),
  };
}
