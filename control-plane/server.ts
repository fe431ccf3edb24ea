// The control plane as one call: state store joined (and migrated), the
// compute driver ready, leadership contended for, the HTTP API listening.
// Several may run on one PostgreSQL store (or one SQLite file on one host):
// all serve the API; the leader alone runs the idle scheduler (leader-duties.ts).
import { createServer, type Server } from 'node:http';
import { mkdir } from 'node:fs/promises';
import { join as joinPath, resolve } from 'node:path';
import { pino, type Logger } from 'pino';
import { ControlPlaneService } from './control-plane-service.js';
import type { ComputeDriver } from './drivers/driver.js';
import { createProcessDriver } from './drivers/process-driver.js';
import { createApiHandler } from './http-api.js';
import type { ComputeRoleOptions } from './compute-roles.js';
import type { ActivityStore } from '../activity/activity-store.js';
import { LeaderDuties } from './leader-duties.js';
import { join, type Membership } from './membership.js';
import { createControlPlaneMetrics } from './metrics.js';
import type { LeaderFence } from './store/state-store.js';
import { scaleToZero, type IdleOptions, type ScaleToZero } from './scale-to-zero.js';
import { UsageLedger } from './usage-ledger.js';
import { Autoscaler } from './autoscaler.js';
import { DEFAULT_RULES, type AutoscaleRules } from './autoscale-decision.js';
import { enforceQuotas } from './quota-enforcer.js';
import type { QuotaSources } from './quota-check.js';
import { processComputeStorageBytes } from './usage-storage.js';
import { allUsage } from './usage-report.js';
import { usageMetricsText } from './usage-metrics.js';
import { startComputeProber, type ProberOptions } from './compute-prober.js';

export interface ControlPlaneOptions {
  dataDir: string;
  /** Where the state lives: a SQLite file (default `<dataDir>/state.db`) or a postgres:// URL. */
  state?: string;
  /** How long a silent control plane keeps its leadership and its claims; default 5000. */
  leaseMs?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Default: the process driver over dataDir. The control plane closes it on close(). */
  driver?: ComputeDriver;
  /** Bearer token for /api routes; undefined = dev mode, no auth. */
  token?: string;
  logger?: Logger;
  /** Bound on bringing one compute up; default 30000. */
  wakeTimeoutMs?: number;
  /** Where proxies report activity; the caller closes it. Without it nothing is suspended for idleness. */
  activity?: ActivityStore;
  idle?: IdleOptions;
  /** Reading role verifiers from computes: refresh interval, bounds. */
  roles?: ComputeRoleOptions;
  /** Names this control plane among the others (default: host, pid, random). */
  instanceId?: string;
  /** Resizing computes with their load (leader only); off without it. */
  autoscale?: AutoscaleOptions;
  /** CPU and memory limits of the default process driver's computes by cgroups; default 'auto'. */
  cgroups?: 'auto' | 'off';
  /** How often the leader stops computes over their quota; default 30000. */
  quotaIntervalMs?: number;
  /** Asking active computes whether they answer, restarting those that do not (default every 5 s, 3 s bound). */
  probe?: ProberOptions;
}

export interface AutoscaleOptions {
  /** How often every active compute is sampled (and resized if need be). */
  intervalMs: number;
  /** The rules' settings (autoscale-decision.ts); defaults for the rest. */
  rules?: Partial<AutoscaleRules>;
}

export interface ControlPlane {
  url: string;
  port: number;
  /** This control plane's instance id. */
  instance: string;
  service: ControlPlaneService;
  membership: Membership;
  duties: LeaderDuties;
  scaleToZero: ScaleToZero;
  /** Leaves computes running (another control plane, or a later start, adopts them) unless stopComputes. */
  close(opts?: { stopComputes?: boolean }): Promise<void>;
}

export const DEFAULT_LEASE_MS = 5_000;

export async function startControlPlane(opts: ControlPlaneOptions): Promise<ControlPlane> {
  const dataDir = resolve(opts.dataDir);
  const host = opts.host ?? '127.0.0.1';
  const logger = opts.logger ?? pino({ name: 'wake-proxy-control-plane' });
  const leaseMs = opts.leaseMs ?? DEFAULT_LEASE_MS;
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const driver = opts.driver ?? createProcessDriver({ dataDir, logger: logger.child({ driver: 'process' }), cgroups: opts.cgroups ?? 'auto' });
  let membership: Membership;
  try {
    membership = await join({
      location: opts.state ?? joinPath(dataDir, 'state.db'),
      dataDir,
      placement: driver.placement,
      leaseMs,
      logger,
      ...(opts.instanceId ? { instanceId: opts.instanceId } : {}),
    });
  } catch (err) {
    await driver.close();
    throw err;
  }
  const { store, instances, election } = membership;
  const metrics = createControlPlaneMetrics();
  const ledger = new UsageLedger(store, logger.child({ component: 'usage-ledger' }));
  const quota: QuotaSources = {
    ledger,
    ...(driver.kind === 'process' ? { storageBytes: (id: string) => processComputeStorageBytes(dataDir, id) } : {}),
    refused: () => metrics.quotaRefusals.inc({ action: 'refused' }),
  };
  const service = new ControlPlaneService({
    store,
    driver,
    instances,
    isLeader: () => election.leading,
    logger,
    wakeTimeoutMs: opts.wakeTimeoutMs ?? 30_000,
    ...(opts.roles ? { roles: opts.roles } : {}),
    quota,
  });
  const s2z = scaleToZero({ service, ledger, dataDir, driverKind: driver.kind, logger, store: opts.activity, idle: opts.idle, metrics });
  const autoscale = opts.autoscale && opts.autoscale.intervalMs > 0 ? opts.autoscale : undefined;
  if (!autoscale) logger.info('autoscaler off: computes keep the size they start at (their minimum)');
  const makeAutoscaler = (fence: () => LeaderFence | undefined, a: AutoscaleOptions) =>
    new Autoscaler({
      targets: service,
      driver,
      fence,
      intervalMs: a.intervalMs,
      rules: { ...DEFAULT_RULES, ...a.rules },
      logger: logger.child({ component: 'autoscaler' }),
      metrics,
    });
  const duties = new LeaderDuties({
    election,
    service,
    ledger,
    instances,
    ...(s2z.makeScheduler ? { makeScheduler: s2z.makeScheduler } : {}),
    ...(autoscale ? { makeAutoscaler: (fence: () => LeaderFence | undefined) => makeAutoscaler(fence, autoscale) } : {}),
    enforceQuotas: (fence) => enforceQuotas(service, quota, fence, logger.child({ component: 'quotas' }), metrics),
    ...(opts.quotaIntervalMs !== undefined ? { quotaIntervalMs: opts.quotaIntervalMs } : {}),
    makeProber: (fence) =>
      startComputeProber(
        {
          activeComputes: () => service.activeComputes(),
          restartUnresponsive: (id, reason, seen, f) => service.restartUnresponsive(id, reason, seen, f),
          fence,
          logger: logger.child({ component: 'compute-prober' }),
        },
        opts.probe,
      ),
    sweepIntervalMs: leaseMs,
    forgetAfterMs: Math.max(60_000, 10 * leaseMs),
    logger: logger.child({ component: 'leader' }),
    metrics,
  });
  // One try before listening: a lone control plane leads (and has adopted what it left running) before it serves.
  await election.tick();
  await duties.settled();
  election.start();

  const api = createApiHandler({
    service,
    logger,
    usage: s2z.usage,
    allUsage: (query) => allUsage(ledger, query),
    usageMetrics: () => usageMetricsText(ledger),
    health: () => ({ instance: instances.id, leader: election.leading }),
    ...(opts.token !== undefined ? { token: opts.token } : {}),
  });
  const server = createServer((req, res) => s2z.serveMetrics(req, res) || api(req, res));
  const shutDown = async (closeOpts?: { stopComputes?: boolean }) => {
    await duties.close();
    await service.close(closeOpts);
    await membership.leave();
  };
  try {
    await listen(server, opts.port ?? 0, host);
  } catch (err) {
    await shutDown();
    throw new Error(`control plane could not listen on ${host}:${opts.port ?? 0}: ${(err as Error).message}`, { cause: err });
  }
  const port = (server.address() as { port: number }).port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  logger.info({ url, dataDir, state: store.location, driver: driver.kind, instance: instances.id, leader: election.leading, auth: opts.token !== undefined }, 'control plane ready');

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    instance: instances.id,
    service,
    membership,
    duties,
    scaleToZero: s2z,
    close(closeOpts) {
      closing ??= (async () => {
        const stopped = new Promise<void>((r) => server.close(() => r()));
        // Wakes held open by clients would otherwise keep close() waiting for them.
        server.closeAllConnections();
        await stopped;
        await shutDown(closeOpts);
        logger.info({ stopComputes: closeOpts?.stopComputes ?? false }, 'control plane closed');
      })();
      return closing;
    },
  };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
