// Turn parsed proxy flags into a running proxy with its admin HTTP server;
// shared by `proxy` and `dev`.
import type { Logger } from 'pino';
import type { ComputeResolver } from '../control-client/types.js';
import { startProxy, type ProxyServer } from '../proxy/server.js';
import { startAdminServer, type AdminServer } from '../proxy/admin-http.js';
import type { RoutingConfig } from '../proxy/routing.js';
import type { ProxyMetrics } from '../proxy/metrics.js';
import type { ParsedValue } from './options.js';

export interface RunningProxy {
  proxy: ProxyServer;
  admin: AdminServer;
  /** Drain within --drain-timeout, then release everything. */
  stop(): Promise<void>;
}

export async function startProxyFromValues(
  values: Record<string, ParsedValue>,
  resolver: ComputeResolver,
  routing: RoutingConfig,
  logger: Logger,
  metrics: ProxyMetrics,
): Promise<RunningProxy> {
  const proxy = await startProxy({
    metrics,
    host: values.host as string,
    port: values.port as number,
    resolver,
    routing,
    wakeTimeoutMs: values['wake-timeout'] as number,
    handshakeTimeoutMs: values['handshake-timeout'] as number,
    connectTimeoutMs: values['connect-timeout'] as number,
    logger,
  });
  let admin: AdminServer;
  try {
    admin = await startAdminServer({
      host: values['admin-host'] as string,
      port: values['admin-port'] as number,
      registry: proxy.metrics.registry,
      ready: () => proxy.ready,
      beforeScrape: () => proxy.countLiveBytes(),
      logger,
    });
  } catch (err) {
    await proxy.close();
    throw err;
  }
  logger.info({ port: admin.port }, 'admin HTTP listening');
  return {
    proxy,
    admin,
    async stop() {
      await proxy.drain(values['drain-timeout'] as number);
      await resolver.close();
      await admin.close();
    },
  };
}
