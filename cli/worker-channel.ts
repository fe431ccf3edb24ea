// The messages between a primary and its proxy workers (the cluster IPC channel),
// and a worker's side of it: it says when it listens and whether it is ready, and
// answers the primary's metrics requests with its own registry.
//
// Draining is not a message: the primary signals each worker (SIGTERM) as the
// terminal signals the whole process group on Ctrl-C, so both reach the one
// shutdown handler a worker has (cli/lifecycle.ts), and a worker told twice within
// its repeat window drains once.
import type { Logger } from 'pino';
import type { RunningProxy } from './start-proxy.js';

export type ToPrimary =
  | { type: 'wake-proxy:listening'; port: number }
  | { type: 'wake-proxy:ready'; ready: boolean }
  | { type: 'wake-proxy:metrics'; id: number; metrics: unknown[] }
  | { type: 'wake-proxy:metrics-failed'; id: number; error: string };

export type ToWorker = { type: 'wake-proxy:metrics?'; id: number };

/** A worker's message as the primary trusts it: known type, fields of the right types; anything else is undefined. */
export function parseToPrimary(m: unknown): ToPrimary | undefined {
  if (typeof m !== 'object' || m === null) return undefined;
  const o = m as Record<string, unknown>;
  switch (o.type) {
    case 'wake-proxy:listening':
      return typeof o.port === 'number' ? { type: o.type, port: o.port } : undefined;
    case 'wake-proxy:ready':
      return typeof o.ready === 'boolean' ? { type: o.type, ready: o.ready } : undefined;
    case 'wake-proxy:metrics':
      return typeof o.id === 'number' && Array.isArray(o.metrics) ? { type: o.type, id: o.id, metrics: o.metrics } : undefined;
    case 'wake-proxy:metrics-failed':
      return typeof o.id === 'number' && typeof o.error === 'string' ? { type: o.type, id: o.id, error: o.error } : undefined;
    default:
      return undefined;
  }
}

export interface WorkerChannel {
  /** Tells the primary this worker is draining: /readyz answers 503 from now on. */
  draining(): void;
}

/** A worker's side, once its proxy listens. */
export function openWorkerChannel(running: RunningProxy, logger: Logger): WorkerChannel {
  const send = (m: ToPrimary) => {
    // The channel is gone when the primary is: the worker exits then (node:cluster's own rule).
    if (process.connected) process.send!(m, undefined, undefined, (err) => err && logger.debug({ err }, 'message to the primary lost'));
  };
  process.on('message', (m: unknown) => {
    const o = m as Partial<ToWorker> | null;
    if (o?.type !== 'wake-proxy:metrics?' || typeof o.id !== 'number') return;
    const id = o.id;
    running.proxy.refreshMetrics();
    running.proxy.metrics.registry.getMetricsAsJSON().then(
      (metrics) => send({ type: 'wake-proxy:metrics', id, metrics }),
      (err: unknown) => send({ type: 'wake-proxy:metrics-failed', id, error: (err as Error).message }),
    );
  });
  send({ type: 'wake-proxy:listening', port: running.proxy.port });
  send({ type: 'wake-proxy:ready', ready: running.proxy.ready });
  return { draining: () => send({ type: 'wake-proxy:ready', ready: false }) };
}
