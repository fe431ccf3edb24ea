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
  /** Every resize the autoscaler (or a change of range) made, by direction and the signal that caused it. */
  resizes: Counter<'direction' | 'cause'>;
  resizeFailures: Counter<'reason'>;
  resizeSeconds: Histogram<'direction'>;
  autoscalerSamples: Counter<'outcome'>;
  /** The sizes of the active computes added up, as of the autoscaler's last pass. */
  allocatedCu: Gauge;
  /** Wakes refused and computes stopped because their project was over its quota. */
  quotaRefusals: Counter<'action'>;
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
    resizes: new Counter({
      name: 'wakeproxy_autoscaler_resizes_total',
      help: 'Compute resizes, by direction (up, down) and cause (cpu, memory, working_set, minimum, range)',
      labelNames: ['direction', 'cause'],
      registers: [registry],
    }),
    resizeFailures: new Counter({
      name: 'wakeproxy_autoscaler_resize_failures_total',
      help: 'Resizes that did not happen, by reason (failed, not_resizable: a compute provisioned before autoscaling, fenced)',
      labelNames: ['reason'],
      registers: [registry],
    }),
    resizeSeconds: new Histogram({
      name: 'wakeproxy_autoscaler_resize_seconds',
      help: 'Time one resize took, limits and buffer pool included',
      labelNames: ['direction'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    autoscalerSamples: new Counter({
      name: 'wakeproxy_autoscaler_samples_total',
      help: 'Samples of active computes, by outcome (ok, unreadable)',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    allocatedCu: new Gauge({
      name: 'wakeproxy_autoscaler_allocated_cu',
      help: 'Compute units of all active computes added up, at the autoscaler\'s last pass (leader only)',
      registers: [registry],
    }),
    quotaRefusals: new Counter({
      name: 'wakeproxy_quota_actions_total',
      help: 'Projects over their quota: wakes refused (refused) and awake computes stopped (stopped)',
      labelNames: ['action'],
      registers: [registry],
    }),
  };
}
