// The control plane's scale-to-zero parts put together: the idle scheduler
// (only with an activity store: without proxies' reports nothing can be proven
// idle), the usage endpoint, and the /metrics they feed.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { ActivityStore } from '../activity/activity-store.js';
import type { ControlPlaneService } from './control-plane-service.js';
import { IdleScheduler } from './idle-scheduler.js';
import { createControlPlaneMetrics, type ControlPlaneMetrics } from './metrics.js';
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
}

export interface ScaleToZero {
  scheduler?: IdleScheduler;
  metrics: ControlPlaneMetrics;
  usage(projectId: string, query: URLSearchParams): Promise<unknown>;
  /** Answers /metrics; false for any other request. */
  serveMetrics(req: IncomingMessage, res: ServerResponse): boolean;
  /** Stops the scheduler (before computes are closed, so it suspends nothing mid-shutdown). */
  close(): Promise<void>;
  /** Resolves once every usage event so far is on disk. */
  flushed(): Promise<void>;
}

export function startScaleToZero(o: ScaleToZeroOptions): ScaleToZero {
  const metrics = createControlPlaneMetrics();
  const { service, ledger } = o;
  // Computes deleted while no ledger listened (older versions) would otherwise count forever.
  const computes = service.listComputes();
  ledger.closeMissing(new Set(computes.map((c) => c.id)), () => undefined, Date.now());

  let scheduler: IdleScheduler | undefined;
  if (o.store && o.idle && o.idle.idleTimeoutMs > 0) {
    scheduler = new IdleScheduler({
      targets: service,
      store: o.store,
      ...o.idle,
      logger: o.logger.child({ component: 'idle-scheduler' }),
      metrics,
    });
    scheduler.start();
  } else {
    const why = !o.store ? 'no activity store (no Redis URL)' : 'idle timeout is 0';
    o.logger.info(`idle scheduler off: ${why}; computes sleep only when told to`);
  }

  return {
    ...(scheduler ? { scheduler } : {}),
    metrics,
    usage: (projectId, query) =>
      projectUsage(
        {
          ledger,
          ...(o.store ? { store: o.store } : {}),
          project: (id) => {
            const p = service.getProject(id);
            return { createdAt: p.createdAt, computeId: p.compute?.id ?? null };
          },
          ...(o.driverKind === 'process' ? { storageBytes: (id: string) => processComputeStorageBytes(o.dataDir, id) } : {}),
        },
        projectId,
        query,
      ),
    serveMetrics(req, res) {
      if (req.method !== 'GET' || new URL(req.url ?? '/', 'http://control-plane').pathname !== '/metrics') return false;
      metrics.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
        (err: unknown) => {
          o.logger.error({ err }, 'could not render metrics');
          res.writeHead(500).end();
        },
      );
      return true;
    },
    async close() {
      await scheduler?.close();
    },
    flushed: () => ledger.flushed(),
  };
}
