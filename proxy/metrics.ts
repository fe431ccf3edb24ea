// What an operator watches. No per-project labels: label values stay a small
// fixed set however many projects there are.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { PhaseHistogram } from './phase-histogram.js';

/** The connect phases' labels, one object each: observed at every login, never built per login. */
export const PHASE = {
  wake: { phase: 'wake' },
  backendConnect: { phase: 'backend_connect' },
  auth: { phase: 'auth' },
  total: { phase: 'total' },
} as const;

export interface ProxyMetrics {
  registry: Registry;
  connectionsOpened: Counter<'mode'>;
  connectionsActive: Gauge;
  connectionsRefused: Counter<'reason'>;
  wakeRequests: Counter<'outcome'>;
  connectPhase: PhaseHistogram<'phase'>;
  clientsWaiting: Gauge;
  bytesRelayed: Counter<'direction'>;
  sessionErrors: Counter<'kind'>;
  controlApiSeconds: Histogram<'outcome'>;
  activityStoreSeconds: Histogram<'outcome'>;
  poolConnections: Gauge<'state'>;
  /** Transaction pooling: backends borrowed per statement or transaction, and sessions pinned. */
  poolBorrows: Counter;
  sessionPins: Counter<'reason'>;
  /** Session and transaction pooling: verified sessions on a connection of their own, by why. */
  ownConnections: Counter<'reason'>;
  /**
   * Counts bumped per statement or connection, added to their counters when those are
   * read: poolBorrows, wakeRequests{outcome="ok"}, bytesRelayed by direction,
   * connectionsOpened by mode; `active` is connectionsActive's value.
   */
  pending: {
    poolBorrows: PendingCount;
    wakesOk: PendingCount;
    bytesIn: PendingCount;
    bytesOut: PendingCount;
    opened: PendingByLabel;
    active: { n: number };
  };
}

/**
 * A count bumped on the hot path (per statement in transaction mode) as a plain number,
 * moved into its counter whenever the counter is read (a scrape, SHOW STATS):
 * prom-client's inc() looks its labels up on every call, about a microsecond.
 */
export class PendingCount {
  n = 0;

  /** What accumulated since the last call. */
  take(): number {
    const { n } = this;
    this.n = 0;
    return n;
  }
}

/** PendingCounts per value of one label (a proxy's pool mode): each caller keeps its own. */
export class PendingByLabel {
  private readonly counts = new Map<string, PendingCount>();

  for(value: string): PendingCount {
    let c = this.counts.get(value);
    if (!c) this.counts.set(value, (c = new PendingCount()));
    return c;
  }

  /** Each value's count since the last call. */
  take(): Array<[string, number]> {
    return [...this.counts].map(([value, c]) => [value, c.take()]);
  }
}

// From a cache hit (sub-millisecond) to a cold process start (seconds).
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export function createProxyMetrics(registry = new Registry()): ProxyMetrics {
  // Node's process metrics under their conventional names (process_cpu_seconds_total,
  // nodejs_heap_size_used_bytes, ...), as every Node exporter's dashboards expect them.
  collectDefaultMetrics({ register: registry });
  const pending = {
    poolBorrows: new PendingCount(),
    wakesOk: new PendingCount(),
    bytesIn: new PendingCount(),
    bytesOut: new PendingCount(),
    opened: new PendingByLabel(),
    active: { n: 0 },
  };
  return {
    registry,
    pending,
    connectionsOpened: new Counter({
      name: 'wakeproxy_client_connections_opened_total',
      help: 'Client connections accepted by the proxy, by pool mode',
      labelNames: ['mode'],
      registers: [registry],
      collect() {
        for (const [mode, n] of pending.opened.take()) if (n > 0) this.inc({ mode }, n);
      },
    }),
    connectionsActive: new Gauge({
      name: 'wakeproxy_client_connections_active',
      help: 'Client connections open now (handshaking or relaying)',
      registers: [registry],
      collect() {
        this.set(pending.active.n);
      },
    }),
    connectionsRefused: new Counter({
      name: 'wakeproxy_client_connections_refused_total',
      help: 'Client connections ended with an error before relaying, by reason',
      labelNames: ['reason'],
      registers: [registry],
    }),
    wakeRequests: new Counter({
      name: 'wakeproxy_wake_requests_total',
      help: 'Resolutions of a project to a compute, by outcome (ok, not_found, failed, timeout)',
      labelNames: ['outcome'],
      registers: [registry],
      collect() {
        const n = pending.wakesOk.take();
        if (n > 0) this.inc({ outcome: 'ok' }, n);
      },
    }),
    connectPhase: new PhaseHistogram(
      'wakeproxy_connect_phase_seconds',
      'Time a new client spends in each phase before its session is ready (wake, backend_connect, auth, total)',
      'phase',
      LATENCY_BUCKETS,
      registry,
    ),
    clientsWaiting: new Gauge({
      name: 'wakeproxy_clients_waiting_for_wake',
      help: 'Clients held while their compute wakes',
      registers: [registry],
    }),
    bytesRelayed: new Counter({
      name: 'wakeproxy_bytes_relayed_total',
      help: 'Bytes carried after authentication, by direction (client_to_backend, backend_to_client)',
      labelNames: ['direction'],
      registers: [registry],
      collect() {
        const bytesIn = pending.bytesIn.take();
        const bytesOut = pending.bytesOut.take();
        if (bytesIn > 0) this.inc({ direction: 'client_to_backend' }, bytesIn);
        if (bytesOut > 0) this.inc({ direction: 'backend_to_client' }, bytesOut);
      },
    }),
    sessionErrors: new Counter({
      name: 'wakeproxy_session_errors_total',
      help: 'Handshake and protocol errors by kind',
      labelNames: ['kind'],
      registers: [registry],
    }),
    poolBorrows: new Counter({
      name: 'wakeproxy_pool_transaction_borrows_total',
      help: 'Transaction pooling: backends borrowed for a transaction or a statement outside one (logins included)',
      registers: [registry],
      collect() {
        const n = pending.poolBorrows.take();
        if (n > 0) this.inc(n);
      },
    }),
    sessionPins: new Counter({
      name: 'wakeproxy_pool_session_pins_total',
      help: 'Transaction pooling: sessions pinned to their backend, by what left state on it (user_variable, set_statement, use_database, temporary_table, prepared_statement, lock, found_rows, handler, stored_procedure, sequence, stored_code, stored_code_unknown, session_state, command)',
      labelNames: ['reason'],
      registers: [registry],
    }),
    ownConnections: new Counter({
      name: 'wakeproxy_pool_own_connections_total',
      help: 'Session and transaction pooling: verified sessions given a compute connection of their own, not a pooled one, by why (resource_limits, expired_password, client_flags)',
      labelNames: ['reason'],
      registers: [registry],
    }),
    poolConnections: new Gauge({
      name: 'wakeproxy_pool_connections',
      help: 'Pooled compute connections over all computes, by state (in_use, idle, waiting borrowers, open)',
      labelNames: ['state'],
      registers: [registry],
    }),
    controlApiSeconds: new Histogram({
      name: 'wakeproxy_control_api_request_seconds',
      help: 'Latency of control API wake calls, by outcome',
      labelNames: ['outcome'],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    activityStoreSeconds: new Histogram({
      name: 'wakeproxy_activity_report_seconds',
      help: 'Latency of activity report writes (Redis or memory), by outcome (ok, error); one per report interval',
      labelNames: ['outcome'],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
  };
}
