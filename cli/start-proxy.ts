// Turn parsed proxy flags into a running proxy with its admin HTTP server;
// shared by `proxy` and `dev`.
import type { Logger } from 'pino';
import type { ComputeResolver } from '../control-client/types.js';
import { startProxy, type ProxyServer } from '../proxy/server.js';
import { startAdminServer, type AdminServer } from '../proxy/admin-http.js';
import type { RoutingConfig } from '../proxy/routing.js';
import type { ProxyMetrics } from '../proxy/metrics.js';
import { createControlApiVerifiers } from '../control-client/control-api-verifiers.js';
import type { RoleVerifierClient } from '../control-client/verifiers.js';
import type { UnverifiedPolicy } from '../proxy/credential-check.js';
import { readFileSync } from 'node:fs';
import { TlsContextHolder } from '../proxy/tls-context.js';
import type { BackendTlsOptions } from '../backend/connect.js';
import { createBackendPools, type BackendPools } from '../pool/backend-pool.js';
import type { PoolMode } from '../proxy/session-context.js';
import { createBackendAccountVerifiers } from '../control-client/backend-account-verifiers.js';
import type { ActivityReporter } from '../proxy/activity-reporter.js';
import { ConfigError, type ParsedValue } from './options.js';

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
  /** Closed by stop() after the drain, so its last report has the clients gone. */
  activity?: ActivityReporter,
  verifiers?: RoleVerifierClient,
): Promise<RunningProxy> {
  const tls = loadTls(values, logger);
  const pools = poolsFromValues(values, verifiers, logger);
  const backendTls = backendTlsFromValues(values);
  const proxy = await startProxy({
    ...(backendTls ? { backendTls } : {}),
    pooling: pools ? { mode: values['pool-mode'] as PoolMode, pools } : { mode: 'pipe' },
    metrics,
    ...(tls ? { tls } : {}),
    requireTls: values['require-tls'] === 'true',
    limits: {
      maxConnections: values['max-connections'] as number | undefined,
      maxConnectionsPerProject: values['max-connections-per-project'] as number | undefined,
      connectionRatePerProject: values['connection-rate-per-project'] as number | undefined,
      maxWaitingPerProject: values['max-waiting-per-project'] as number | undefined,
      maxAuthFailuresPerMinute: values['max-auth-failures-per-minute'] as number | undefined,
    },
    ...(verifiers ? { verifiers } : {}),
    unknownUsers: (values['unknown-users'] as UnverifiedPolicy | undefined) ?? 'refuse',
    otherPlugins: (values['other-plugins'] as UnverifiedPolicy | undefined) ?? 'passthrough',
    host: values.host as string,
    port: values.port as number,
    resolver,
    routing,
    wakeTimeoutMs: values['wake-timeout'] as number,
    handshakeTimeoutMs: values['handshake-timeout'] as number,
    connectTimeoutMs: values['connect-timeout'] as number,
    logger,
    ...(activity ? { activity } : {}),
  });
  let admin: AdminServer;
  try {
    admin = await startAdminServer({
      host: values['admin-host'] as string,
      port: values['admin-port'] as number,
      registry: proxy.metrics.registry,
      ready: () => proxy.ready,
      beforeScrape: () => proxy.refreshMetrics(),
      logger,
    });
  } catch (err) {
    await proxy.close();
    throw err;
  }
  logger.info({ port: admin.port }, 'admin HTTP listening');
  const onHangup = () => tls?.reload();
  if (tls) {
    tls.watch();
    process.on('SIGHUP', onHangup);
  }
  return {
    proxy,
    admin,
    async stop() {
      process.off('SIGHUP', onHangup);
      tls?.close();
      await proxy.drain(values['drain-timeout'] as number);
      await activity?.close();
      await resolver.close();
      await verifiers?.close();
      await admin.close();
    },
  };
}

function loadTls(values: Record<string, ParsedValue>, logger: Logger): TlsContextHolder | undefined {
  const certFile = values['tls-cert'] as string | undefined;
  const keyFile = values['tls-key'] as string | undefined;
  const problems: string[] = [];
  if (!!certFile !== !!keyFile) problems.push('--tls-cert and --tls-key go together');
  if (values['require-tls'] === 'true' && !certFile) problems.push('--require-tls needs --tls-cert and --tls-key');
  if (values['sni-suffix'] && !certFile) problems.push('--sni-suffix needs --tls-cert and --tls-key');
  if (problems.length > 0) throw new ConfigError(problems);
  if (!certFile || !keyFile) return undefined;
  try {
    return new TlsContextHolder({ certFile, keyFile }, logger);
  } catch (err) {
    throw new ConfigError([(err as Error).message]);
  }
}

/** Role verifiers from the control API, when the proxy checks passwords itself. */
export function verifiersFromValues(
  values: Record<string, ParsedValue>,
  url: string,
  token: string | undefined,
  logger: Logger,
): RoleVerifierClient | undefined {
  if (values.auth !== 'verify') return undefined;
  return createControlApiVerifiers({ url, ...(token ? { token } : {}), ttlMs: values['verifier-ttl'] as number, logger });
}

/**
 * A static backend's verifiers, read from its own accounts, when --accounts-user
 * is given; without it passwords go to the backend (passthrough).
 */
export function backendVerifiersFromValues(
  values: Record<string, ParsedValue>,
  backend: { host: string; port: number },
  logger: Logger,
): RoleVerifierClient | undefined {
  const user = values['accounts-user'] as string | undefined;
  const password = values['accounts-password'] as string | undefined;
  if (!user) {
    if (password) throw new ConfigError(['--accounts-password needs --accounts-user']);
    return undefined;
  }
  if (values.auth !== 'verify') return undefined;
  return createBackendAccountVerifiers({ backend, login: { user, password: password ?? '' }, ttlMs: values['verifier-ttl'] as number, logger });
}

function poolsFromValues(
  values: Record<string, ParsedValue>,
  verifiers: RoleVerifierClient | undefined,
  logger: Logger,
): BackendPools | undefined {
  const mode = values['pool-mode'];
  if (mode === 'pipe') return undefined;
  // Only the proxy's own login (with a verified stage1) can fill a pool.
  if (!verifiers) {
    throw new ConfigError([`--pool-mode ${mode} needs --auth verify and a control API (--control-url), or --backend with --accounts-user`]);
  }
  return createBackendPools({
    maxPerCompute: values['pool-max-per-compute'] as number,
    idleTimeoutMs: values['pool-idle-timeout'] as number,
    acquireTimeoutMs: values['pool-acquire-timeout'] as number,
    logger,
  });
}

function backendTlsFromValues(values: Record<string, ParsedValue>): BackendTlsOptions | undefined {
  const mode = values['backend-tls'];
  const caFile = values['backend-tls-ca'] as string | undefined;
  if (mode === 'off' || mode === undefined) {
    if (caFile) throw new ConfigError(['--backend-tls-ca needs --backend-tls verify-ca']);
    return undefined;
  }
  if (mode === 'require') return { rejectUnauthorized: false };
  if (!caFile) throw new ConfigError(['--backend-tls verify-ca needs --backend-tls-ca']);
  try {
    return { rejectUnauthorized: true, ca: readFileSync(caFile) };
  } catch (err) {
    throw new ConfigError([`--backend-tls-ca: ${(err as Error).message}`]);
  }
}
