// The control plane's scale-to-zero parts put together: the idle scheduler's
// making (it runs on the leader only, one per term: leader-duties.ts; and only
// with an activity store: without proxies' reports nothing can be proven
// idle), the usage endpoint, and the /metrics they feed.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { ActivityStore } from '../activity/activity-store.js';
import type { ControlPlaneService } from './control-plane-service.js';
import { IdleScheduler } from './idle-scheduler.js';
import type { ControlPlaneMetrics } from './metrics.js';
import type { LeaderFence } from './store/state-store.js';
import { projectUsage } from './usage-report.js';
import { processComputeStorageBytes } from './usage-storage.js';
import type { UsageLedger } from './usage-ledger.js';

export interface IdleOptions {
  /** 0 turns the scheduler off. */
  idleTimeoutMs: number;
  /** Time frozen before a real stop; 0 stops right away. */
  coldTimeoutMs: number;
  /** The proxies' report interval (they must agree; see docs/activity-keys.md). */
  reportIntervalMs: number;
  /** Default: a fifth of the idle timeout, at least 200 ms. */
  checkIntervalMs?: number;
}

export interface ScaleToZeroOptions {
  service: ControlPlaneService;
  ledger: UsageLedger;
  dataDir: string;
  driverKind: string;
  store?: ActivityStore;
  idle?: IdleOptions;
  logger: Logger;
  metrics: ControlPlaneMetrics;
}

export interface ScaleToZero {
  metrics: ControlPlaneMetrics;
  /** A new idle scheduler for a leadership term; undefined when it is off. */
  makeScheduler?: (fence: () => LeaderFence | undefined) => IdleScheduler;
  usage(projectId: string, query: URLSearchParams): Promise<unknown>;
  /** Answers /metrics; false for any other request. */
  serveMetrics(req: IncomingMessage, res: ServerResponse): boolean;
}

export function scaleToZero(opts: ScaleToZeroOptions): ScaleToZero {
  const { service, ledger, metrics } = opts;
  const { store, idle } = opts;
  let makeScheduler: ScaleToZero['makeScheduler'];
  if (store && idle && idle.idleTimeoutMs > 0) {
    makeScheduler = (fence) =>
      new IdleScheduler({ targets: service, fence, store, ...idle, logger: opts.logger.child({ component: 'idle-scheduler' }), metrics });
  } else {
    const why = !store ? 'no activity store (no Redis URL)' : 'idle timeout is 0';
    opts.logger.info(`idle scheduler off: ${why}; computes sleep only when told to`);
  }

  return {
    metrics,
    ...(makeScheduler ? { makeScheduler } : {}),
    usage: (projectId, query) =>
      projectUsage(
        {
          ledger,
          ...(store ? { store } : {}),
          project: async (id) => {
            const p = await service.getProject(id);
            return { createdAt: p.createdAt, computeId: p.compute?.id ?? null };
          },
          ...(opts.driverKind === 'process' ? { storageBytes: (id: string) => processComputeStorageBytes(opts.dataDir, id) } : {}),
        },
        projectId,
        query,
      ),
    serveMetrics(req, res) {
      if (req.method !== 'GET' || new URL(req.url ?? '/', 'http://control-plane').pathname !== '/metrics') return false;
      metrics.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
        (err: unknown) => {
          opts.logger.error({ err }, 'could not render metrics');
          res.writeHead(500).end();
        },
      );
      return true;
    },
  };
}
