// Turn parsed proxy flags into a running proxy with its admin HTTP server;
// shared by `proxy` and `dev`.
import type { Logger } from 'pino';
import type { ComputeResolver } from '../control-client/types.js';
import { startProxy, type ProxyServer } from '../proxy/server.js';
import { registryScrape, startAdminServer, type AdminServer } from '../proxy/admin-http.js';
import type { RoutingConfig } from '../proxy/routing.js';
import type { ProxyMetrics } from '../proxy/metrics.js';
import { createControlApiVerifiers } from '../control-client/control-api-verifiers.js';
import type { RoleVerifierClient } from '../control-client/verifiers.js';
import { readFileSync } from 'node:fs';
import { TlsContextHolder } from '../proxy/tls-context.js';
import type { BackendTlsOptions } from '../backend/connect.js';
import { createBackendPools, defaultGrowDelayMs } from '../pool/backend-pool.js';
import type { Pooling } from '../proxy/session-context.js';
import { createBackendAccountVerifiers } from '../control-client/backend-account-verifiers.js';
import type { ActivityReporter } from '../proxy/activity-reporter.js';
import type { BackendAddress } from '../backend/address.js';
import { ConfigError } from './options.js';
import type { OptionValues } from './option-spec.js';
import type { ACTIVITY_OPTIONS } from './common-options.js';
import type { PROXY_ONLY_OPTIONS, PROXY_OPTIONS, VERIFY_OPTIONS } from './proxy-options.js';
import { SourceAddress } from '../proxy/source-address.js';
import { MemoryPasswordErrors, type PasswordErrorStore } from '../accounts/password-errors.js';
import { RedisPasswordErrors } from '../accounts/redis-password-errors.js';
import { setUpKill } from './kill-setup.js';
import { backendGreeting } from './backend-greeting.js';
import { SharedGreeting } from '../proxy/shared-greeting.js';
import { createControlApiGreeting } from '../control-client/control-api-greeting.js';
import { startAdminConsole, type AdminConsole } from '../proxy/admin-console/console-server.js';

/** What a running proxy reads, in `proxy` and `dev` alike (`dev` has no upstream flags). */
type ProxyValues = OptionValues<typeof PROXY_OPTIONS> &
  OptionValues<typeof VERIFY_OPTIONS> &
  Partial<Pick<OptionValues<typeof PROXY_ONLY_OPTIONS>, 'backend' | 'control-url' | 'control-token' | 'accounts-user' | 'accounts-password' | 'connect-at-accept'>> &
  Partial<Pick<OptionValues<typeof ACTIVITY_OPTIONS>, 'redis'>>;
export interface StartExtras {
  /** Closed by stop() after the drain, so its last report has the clients gone. */
  activity?: ActivityReporter | undefined;
  verifiers?: RoleVerifierClient | undefined;
  /** Serve admin HTTP (default true); a worker does not, its primary does. */
  adminHttp?: boolean;
}

type BackendAccountValues = OptionValues<typeof PROXY_ONLY_OPTIONS> & OptionValues<typeof VERIFY_OPTIONS>;

export interface RunningProxy {
  proxy: ProxyServer;
  /** Admin HTTP; none in a worker (its primary serves it for all of them). */
  admin: AdminServer | undefined;
  /** The MySQL-protocol admin console, with --admin-mysql-port. */
  console: AdminConsole | undefined;
  /** Drain within --drain-timeout, then release everything. */
  stop(): Promise<void>;
}

export async function startProxyFromValues(
  values: ProxyValues,
  resolver: ComputeResolver,
  routing: RoutingConfig,
  logger: Logger,
  metrics: ProxyMetrics,
  extras: StartExtras = {},
): Promise<RunningProxy> {
  const { activity, verifiers } = extras;
  const tls = loadTls(values, logger);
  checkConsoleValues(values);
  const pooling = poolingFromValues(values, verifiers, logger);
  const backendTls = backendTlsFromValues(values);
  const sourceAddress = new SourceAddress(probeHost(values));
  // Counted across proxies when they share Redis, as the server counts across its clients.
  const redisUrl = values.redis as string | undefined;
  const passwordErrors: PasswordErrorStore = redisUrl ? new RedisPasswordErrors({ url: redisUrl }) : new MemoryPasswordErrors();
  const controlUrl = values['control-url'];
  const controlToken = values['control-token'];
  const accountsUser = values.backend ? values['accounts-user'] : undefined;
  const accounts = accountsUser ? { user: accountsUser, password: values['accounts-password'] ?? '' } : undefined;
  // What proxies sharing Redis learned of the computes' greeting, and what this one learns for them.
  const shared = redisUrl ? new SharedGreeting({ url: redisUrl, logger }) : undefined;
  // All before the proxy listens, side by side: each may wait up to a few seconds for a server that is down.
  const [kill, backendRead, sharedRead] = await Promise.all([
    setUpKill({
      ...(redisUrl ? { redisUrl } : {}),
      ...(controlUrl ? { controlUrl } : {}),
      ...(controlToken ? { controlToken } : {}),
      ...(accounts ? { accounts } : {}),
      connectTimeoutMs: values['connect-timeout'],
      ...(backendTls ? { backendTls } : {}),
      logger,
    }),
    values.backend
      ? backendGreeting({
          backend: values.backend,
          ...(accounts ? { accounts } : {}),
          connectAtAccept: values['connect-at-accept'] ?? true,
          connectTimeoutMs: values['connect-timeout'],
          ...(backendTls ? { backendTls } : {}),
          logger,
        })
      : undefined,
    shared?.read(),
  ]);
  // A static backend's own greeting is the one its clients would get directly.
  const greeting = backendRead ?? sharedRead;
  if (greeting && !backendRead) {
    logger.info({ serverVersion: greeting.serverVersion, charset: greeting.charset }, 'greeting clients as proxies sharing Redis last saw a compute greet');
  }
  const proxy = await startProxy({
    ...(greeting ? { greeting } : {}),
    ...(shared ? { greetingChanged: shared.offer } : {}),
    // Before a client names its project, only the control plane knows what its computes greet with.
    ...(controlUrl && !values.backend ? { greetingFromControl: createControlApiGreeting({ url: controlUrl, ...(controlToken ? { token: controlToken } : {}) }) } : {}),
    kill: kill.options,
    sourceAddress,
    passwordErrors,
    ...(backendTls ? { backendTls } : {}),
    pooling,
    metrics,
    ...(tls ? { tls } : {}),
    requireTls: values['require-tls'],
    limits: {
      maxConnections: values['max-connections'],
      maxConnectionsPerProject: values['max-connections-per-project'],
      connectionRatePerProject: values['connection-rate-per-project'],
      maxWaitingPerProject: values['max-waiting-per-project'],
      maxAuthFailuresPerMinute: values['max-auth-failures-per-minute'],
    },
    ...(verifiers ? { verifiers } : {}),
    unknownUsers: values['unknown-users'],
    otherPlugins: values['other-plugins'],
    host: values.host,
    port: values.port,
    resolver,
    routing,
    wakeTimeoutMs: values['wake-timeout'],
    handshakeTimeoutMs: values['handshake-timeout'],
    connectTimeoutMs: values['connect-timeout'],
    connectAtAccept: values['connect-at-accept'] ?? true,
    logger,
    ...(activity ? { activity } : {}),
  }).catch(async (err: unknown) => {
    await passwordErrors.close();
    await kill.close();
    await shared?.close();
    throw err;
  });
  let admin: AdminServer | undefined;
  try {
    if (extras.adminHttp ?? true) {
      admin = await startAdminServer({
        host: values['admin-host'],
        port: values['admin-port'],
        scrape: registryScrape(proxy.metrics.registry, () => proxy.refreshMetrics()),
        ready: () => proxy.ready,
        logger,
      });
      logger.info({ port: admin.port }, 'admin HTTP listening');
    }
  } catch (err) {
    await proxy.close();
    await passwordErrors.close();
    await kill.close();
    await shared?.close();
    throw err;
  }
  let adminConsole: AdminConsole | undefined;
  try {
    adminConsole = await startConsoleFromValues(values, proxy, logger);
  } catch (err) {
    await admin?.close();
    await proxy.close();
    await passwordErrors.close();
    await kill.close();
    await shared?.close();
    throw err;
  }
  const onHangup = () => tls?.reload();
  if (tls) {
    tls.watch();
    process.on('SIGHUP', onHangup);
  }
  return {
    proxy,
    admin,
    console: adminConsole,
    async stop() {
      process.off('SIGHUP', onHangup);
      tls?.close();
      await proxy.drain(values['drain-timeout']);
      await adminConsole?.close();
      await kill.close();
      await shared?.close();
      await activity?.close();
      await resolver.close();
      await verifiers?.close();
      await passwordErrors.close();
      await admin?.close();
    },
  };
}

function checkConsoleValues(values: ProxyValues): void {
  if (values['admin-mysql-port'] !== undefined && !values['admin-mysql-password']) {
    throw new ConfigError(['--admin-mysql-port needs --admin-mysql-password (or WAKE_PROXY_ADMIN_MYSQL_PASSWORD)']);
  }
}

/** The admin console, when --admin-mysql-port is given: its own listener, loopback unless --admin-mysql-host says otherwise. */
async function startConsoleFromValues(values: ProxyValues, proxy: ProxyServer, logger: Logger): Promise<AdminConsole | undefined> {
  const port = values['admin-mysql-port'];
  if (port === undefined) return undefined;
  return startAdminConsole({
    host: values['admin-mysql-host'],
    port,
    user: values['admin-mysql-user'],
    password: values['admin-mysql-password'] ?? '',
    proxy,
    drainTimeoutMs: values['drain-timeout'],
    logger: logger.child({ component: 'admin-console' }),
  });
}

/**
 * Where the computes are, for the source address the proxy uses before its first
 * compute connection: the static backend, or the control API (on the same network).
 */
function probeHost(values: ProxyValues): string | undefined {
  if (values.backend) return values.backend.host;
  const url = values['control-url']?.[0];
  if (!url) return undefined;
  try {
    return new URL(url).hostname;
  } catch {
    return undefined;
  }
}

function loadTls(values: ProxyValues, logger: Logger): TlsContextHolder | undefined {
  const certFile = values['tls-cert'];
  const keyFile = values['tls-key'];
  const problems: string[] = [];
  if (!!certFile !== !!keyFile) problems.push('--tls-cert and --tls-key go together');
  if (values['require-tls'] && !certFile) problems.push('--require-tls needs --tls-cert and --tls-key');
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
  values: OptionValues<typeof VERIFY_OPTIONS>,
  urls: string[],
  token: string | undefined,
  logger: Logger,
): RoleVerifierClient | undefined {
  if (values.auth !== 'verify') return undefined;
  return createControlApiVerifiers({ url: urls, ...(token ? { token } : {}), ttlMs: values['verifier-ttl'], logger });
}

/**
 * A static backend's verifiers, read from its own accounts, when --accounts-user
 * is given; without it passwords go to the backend (passthrough).
 */
export function backendVerifiersFromValues(
  values: BackendAccountValues,
  backend: BackendAddress,
  logger: Logger,
): RoleVerifierClient | undefined {
  const user = values['accounts-user'];
  const password = values['accounts-password'];
  if (!user) {
    if (password) throw new ConfigError(['--accounts-password needs --accounts-user']);
    return undefined;
  }
  if (values.auth !== 'verify') return undefined;
  return createBackendAccountVerifiers({ backend, login: { user, password: password ?? '' }, ttlMs: values['verifier-ttl'], logger });
}

function poolingFromValues(
  values: OptionValues<typeof VERIFY_OPTIONS>,
  verifiers: RoleVerifierClient | undefined,
  logger: Logger,
): Pooling {
  const mode = values['pool-mode'];
  if (mode === 'pipe') return { mode };
  // Only the proxy's own login (with a verified stage1) can fill a pool.
  if (!verifiers) {
    throw new ConfigError([`--pool-mode ${mode} needs --auth verify and a control API (--control-url), or --backend with --accounts-user`]);
  }
  const pools = createBackendPools({
    maxPerCompute: values['pool-max-per-compute'],
    idleTimeoutMs: values['pool-idle-timeout'],
    acquireTimeoutMs: values['pool-acquire-timeout'],
    growDelayMs: values['pool-grow-delay'] ?? defaultGrowDelayMs(mode),
    logger,
  });
  return { mode, pools, statementsPerConnection: values['pool-max-statements'] };
}

function backendTlsFromValues(values: ProxyValues): BackendTlsOptions | undefined {
  const mode = values['backend-tls'];
  const caFile = values['backend-tls-ca'];
  if (mode === 'off') {
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
