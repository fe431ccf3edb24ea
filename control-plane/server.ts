// The control plane as one call: state loaded and reconciled, the compute
// driver ready, the HTTP API listening.
import { createServer, type Server } from 'node:http';
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pino, type Logger } from 'pino';
import { ControlPlaneService } from './control-plane-service.js';
import type { ComputeDriver } from './drivers/driver.js';
import { createProcessDriver } from './drivers/process-driver.js';
import { createApiHandler } from './http-api.js';
import type { ComputeRoleOptions } from './compute-roles.js';
import type { ActivityStore } from '../activity/activity-store.js';
import { startScaleToZero, type IdleOptions, type ScaleToZero } from './scale-to-zero.js';
import { UsageLedger } from './usage-ledger.js';
import { startComputeProber, type ComputeProber, type ProberOptions } from './compute-prober.js';

export interface ControlPlaneOptions {
  dataDir: string;
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
  /** Asking active computes whether they answer, restarting those that do not (default every 5 s, 3 s bound). */
  probe?: ProberOptions;
}

export interface ControlPlane {
  url: string;
  port: number;
  service: ControlPlaneService;
  scaleToZero: ScaleToZero;
  /** Leaves computes running (a later start adopts them) unless stopComputes. */
  close(opts?: { stopComputes?: boolean }): Promise<void>;
}

export async function startControlPlane(opts: ControlPlaneOptions): Promise<ControlPlane> {
  const dataDir = resolve(opts.dataDir);
  const host = opts.host ?? '127.0.0.1';
  const logger = opts.logger ?? pino({ name: 'wake-proxy-control-plane' });
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const driver = opts.driver ?? createProcessDriver({ dataDir, logger: logger.child({ driver: 'process' }) });
  let service: ControlPlaneService;
  let scaleToZero: ScaleToZero;
  let prober: ComputeProber;
  try {
    const ledger = await UsageLedger.open(dataDir, logger);
    service = await ControlPlaneService.open({
      dataDir,
      driver,
      logger,
      wakeTimeoutMs: opts.wakeTimeoutMs ?? 30_000,
      onComputeEvent: (e) => ledger.record(e),
      ...(opts.roles ? { roles: opts.roles } : {}),
    });
    scaleToZero = startScaleToZero({ service, ledger, dataDir, driverKind: driver.kind, logger, store: opts.activity, idle: opts.idle });
    const s = service;
    prober = startComputeProber(
      {
        activeComputes: () => s.activeComputes(),
        restartUnresponsive: (id, reason, seen) => s.restartUnresponsive(id, reason, seen),
        logger: logger.child({ component: 'compute-prober' }),
      },
      opts.probe,
    );
  } catch (err) {
    await driver.close();
    throw err;
  }

  const api = createApiHandler({
    service,
    logger,
    usage: scaleToZero.usage,
    ...(opts.token !== undefined ? { token: opts.token } : {}),
  });
  const server = createServer((req, res) => scaleToZero.serveMetrics(req, res) || api(req, res));
  try {
    await listen(server, opts.port ?? 0, host);
  } catch (err) {
    prober.close();
    await scaleToZero.close();
    await service.close();
    throw new Error(`control plane could not listen on ${host}:${opts.port ?? 0}: ${(err as Error).message}`, { cause: err });
  }
  const port = (server.address() as { port: number }).port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  logger.info({ url, dataDir, driver: driver.kind, auth: opts.token !== undefined }, 'control plane ready');

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    service,
    scaleToZero,
    close(closeOpts) {
      closing ??= (async () => {
        const stopped = new Promise<void>((r) => server.close(() => r()));
        // Wakes held open by clients would otherwise keep close() waiting for them.
        server.closeAllConnections();
        await stopped;
        prober.close();
        await scaleToZero.close();
        await service.close(closeOpts);
        await scaleToZero.flushed();
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
