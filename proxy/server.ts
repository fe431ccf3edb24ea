// The listening socket: accepts clients, runs one session each, drains on
// shutdown.
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import type { ComputeResolver } from '../control-client/types.js';
import { ControlGreeting } from './control-greeting.js';
import { GreetingProfile, type GreetingChange } from './greeting-profile.js';
import type { GreetingFacts } from '../backend/greeting-facts.js';
import { runSession } from './session.js';
import { createSession, type Pooling, type SessionConfig, type SessionContext } from './session-context.js';
import { countBytes, endSession, refuseBeforeGreeting } from './session-exit.js';
import { ProjectLimits, tooManyConnections, type LimitsConfig } from './limits.js';
import { TlsContextHolder } from './tls-context.js';
import type { RoleVerifierClient } from '../control-client/verifiers.js';
import type { UnverifiedPolicy } from './credential-check.js';
import type { BackendTlsOptions } from '../backend/connect.js';
import { createProxyMetrics, type ProxyMetrics } from './metrics.js';
import { StoredCodeRegistry } from './stored-code-registry.js';
import type { RoutingConfig } from './routing.js';
import type { ActivityTracker } from './activity.js';
import { SourceAddress } from './source-address.js';
import { MemoryPasswordErrors, type PasswordErrorStore } from '../accounts/password-errors.js';
import { SessionRegistry } from './kill/session-registry.js';
import { randomInstance } from './kill/instance-claim.js';
import type { KillPeers } from './kill/kill-peers.js';
import type { BackendAddress } from '../backend/address.js';

/** Session ids and KILL between proxies (proxy/kill/). */
export interface KillOptions {
  /** This proxy's instance number in its session ids (instance-claim.ts); default: random. */
  instance?: number;
  /** The other proxies, reached through the registry's KILL targets; closed with the proxy. Default: none. */
  peers?: (registry: SessionRegistry) => KillPeers;
  /** Stops the statement of a passthrough client that left (see KillSupport). */
  stopPassthrough?: (addr: BackendAddress, thread: number) => Promise<boolean>;
}

export interface ProxyOptions {
  host?: string;
  port: number;
  resolver: ComputeResolver;
  routing?: RoutingConfig;
  handshakeTimeoutMs?: number;
  wakeTimeoutMs?: number;
  /** A client that half-closed and reads nothing: how long a write to it may make no progress. */
  halfClosedWriteTimeoutMs?: number;
  connectTimeoutMs?: number;
  /**
   * Passthrough logins whose compute is known before the client's handshake (a static
   * backend, a fixed project with a cached address): connect when the client does and
   * greet it with the compute's scramble, so no auth switch follows. Default true.
   */
  connectAtAccept?: boolean;
  metrics?: ProxyMetrics;
  activity?: ActivityTracker;
  limits?: LimitsConfig;
  /** Certificate for client TLS; without it CLIENT_SSL is not offered. */
  tls?: TlsContextHolder;
  requireTls?: boolean;
  /** Verify passwords in the proxy, before any wake (needs the control API's role verifiers). */
  verifiers?: RoleVerifierClient;
  /** Users the control plane does not know: refuse (default; nothing wakes) or let the compute judge. */
  unknownUsers?: UnverifiedPolicy;
  /** Users with an auth plugin the proxy cannot check: passthrough (default) or refuse. */
  otherPlugins?: UnverifiedPolicy;
  /** Pooling (verified clients only): the mode and the pools to borrow from, closed by the server. Default pipe. */
  pooling?: Pooling;
  /** Transaction pooling: how often a project in use asks for its stored code that pins again (default 5 s). */
  storedCodeRefreshMs?: number;
  /** TLS from the proxy to computes. */
  backendTls?: BackendTlsOptions;
  /** Where computes see this proxy connect from (default: learned from its connections, loopback before). */
  sourceAddress?: SourceAddress;
  /** Failed-password counters (default: in memory); the caller closes it. */
  passwordErrors?: PasswordErrorStore;
  kill?: KillOptions;
  /** A compute's greeting known before the start (a static backend's, or what proxies sharing Redis learned): even the first clients are greeted as it greets. */
  greeting?: GreetingFacts;
  /** Told when the greeting profile learns one that differs from what it had (SharedGreeting.offer). */
  greetingChanged?: GreetingChange;
  /** The control plane's greeting of its computes (GET /api/v1/greeting), asked until the profile learns one. */
  greetingFromControl?: () => Promise<GreetingFacts | undefined>;
  logger: Logger;
}

export interface ProxyServer {
  readonly port: number;
  readonly host: string;
  /** Sessions in progress. */
  readonly sessions: number;
  readonly metrics: ProxyMetrics;
  /** Accepting clients and not draining. */
  readonly ready: boolean;
  /** What the admin console reads: the live sessions and what they share (pools, resolver, metrics, TLS). */
  readonly view: ProxyView;
  /** Bring live sessions' byte counts and pool sizes up to date (before a metrics scrape). */
  refreshMetrics(): void;
  /**
   * Stop accepting, let sessions finish for up to `timeoutMs`, then close the
   * rest. Resolves when no session is left. A second call joins the first.
   */
  drain(timeoutMs: number): Promise<{ closed: number }>;
  close(): Promise<void>;
}

export interface ProxyView {
  /** Live sessions by id, from accept to close. */
  readonly sessions: SessionRegistry<SessionContext>;
  readonly cfg: SessionConfig;
}

export const PROXY_DEFAULTS = {
  handshakeTimeoutMs: 10_000,
  // MariaDB's net_write_timeout default, which a direct client would meet.
  halfClosedWriteTimeoutMs: 60_000,
  wakeTimeoutMs: 30_000,
  connectTimeoutMs: 5_000,
};

export async function startProxy(opts: ProxyOptions): Promise<ProxyServer> {
  const metrics = opts.metrics ?? createProxyMetrics();
  if (opts.requireTls && !opts.tls) throw new Error('requiring TLS needs a certificate and key');
  const limits = new ProjectLimits(opts.limits ?? {});
  const registry = new SessionRegistry<SessionContext>(opts.kill?.instance ?? randomInstance().instance);
  const peers = opts.kill?.peers?.(registry) ?? null;
  const stopPassthrough = opts.kill?.stopPassthrough;
  const cfg: SessionConfig = {
    resolver: opts.resolver,
    routing: opts.routing ?? {},
    profile: GreetingProfile.forPoolMode(opts.pooling?.mode ?? 'pipe', opts.greetingChanged),
    handshakeTimeoutMs: opts.handshakeTimeoutMs ?? PROXY_DEFAULTS.handshakeTimeoutMs,
    wakeTimeoutMs: opts.wakeTimeoutMs ?? PROXY_DEFAULTS.wakeTimeoutMs,
    halfClosedWriteTimeoutMs: opts.halfClosedWriteTimeoutMs ?? PROXY_DEFAULTS.halfClosedWriteTimeoutMs,
    connectTimeoutMs: opts.connectTimeoutMs ?? PROXY_DEFAULTS.connectTimeoutMs,
    connectAtAccept: opts.connectAtAccept ?? true,
    logger: opts.logger,
    metrics,
    limits,
    requireTls: opts.requireTls ?? false,
    unknownUsers: opts.unknownUsers ?? 'refuse',
    otherPlugins: opts.otherPlugins ?? 'passthrough',
    sourceAddress: opts.sourceAddress ?? new SourceAddress(),
    passwordErrors: opts.passwordErrors ?? new MemoryPasswordErrors(),
    ...(opts.verifiers ? { verifiers: opts.verifiers } : {}),
    ...(opts.verifiers && opts.pooling?.mode === 'transaction'
      ? { storedCode: new StoredCodeRegistry({ verifiers: opts.verifiers, logger: opts.logger, ...(opts.storedCodeRefreshMs ? { refreshMs: opts.storedCodeRefreshMs } : {}) }) }
      : {}),
    pooling: opts.pooling ?? { mode: 'pipe' },
    ...(opts.backendTls ? { backendTls: opts.backendTls } : {}),
    ...(opts.activity ? { activity: opts.activity } : {}),
    ...(opts.tls ? { tls: opts.tls } : {}),
    kill: {
      registry,
      peers,
      deps: { instance: registry.instance, local: (id) => registry.target(id), peers },
      ...(stopPassthrough ? { stopPassthrough } : {}),
    },
  };
  if (opts.greeting) cfg.profile.learn(opts.greeting);
  if (opts.greetingFromControl && !cfg.profile.learned) {
    cfg.controlGreeting = new ControlGreeting(opts.greetingFromControl, cfg.profile, opts.logger);
    // Asked at once, so the first client finds the answer there.
    void cfg.controlGreeting.beforeGreeting();
  }
  // Keyed by the accepted socket (a TLS upgrade replaces ctx.socket, not this one), so
  // one listener serves every connection's close instead of a closure each.
  const live = new Map<Socket, SessionContext>();
  let draining = false;
  let emptied: (() => void) | null = null;
  const opened = metrics.pending.opened.for(cfg.pooling.mode);
  const active = metrics.pending.active;
  const pools = cfg.pooling.mode === 'pipe' ? undefined : cfg.pooling.pools;
  function onClose(this: Socket): void {
    const ctx = live.get(this);
    if (ctx) {
      // Whatever waits on the client's behalf (a wake, an account read) stops.
      ctx.abort.clientGone();
      registry.remove(ctx.id);
    }
    live.delete(this);
    active.n--;
    if (live.size === 0) emptied?.();
  }
  // Half-open allowed: a client that half-closes (FIN after its last statement) still
  // reads, and gets what it asked for before the session closes, as from MariaDB. Every
  // step of a session ends the socket itself (relays on the client's 'end').
  const server: Server = createServer({ noDelay: true, allowHalfOpen: true }, (socket) => {
    const max = limits.maxConnections;
    if (max !== undefined && live.size >= max) {
      metrics.connectionsRefused.inc({ reason: 'too_many_connections' });
      socket.on('error', ignore);
      refuseBeforeGreeting(socket, tooManyConnections(max));
      return;
    }
    const ctx = registry.add((id) => createSession(id, socket, cfg));
    live.set(socket, ctx);
    opened.n++;
    active.n++;
    socket.on('close', onClose);
    runSession(ctx).catch((err: unknown) => {
      ctx.log.error({ err }, 'session crashed');
      socket.destroy();
    });
  });
  server.on('error', (err) => opts.logger.error({ err }, 'proxy listener error'));
  const host = opts.host ?? '0.0.0.0';
  await listen(server, opts.port, host);
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  opts.logger.info({ host, port }, 'proxy listening');

  const stopListening = () => new Promise<void>((resolve) => server.close(() => resolve()));
  async function drainNow(timeoutMs: number): Promise<{ closed: number }> {
    draining = true;
    const listenerClosed = stopListening();
    opts.logger.info({ sessions: live.size, timeoutMs }, 'draining');
    if (live.size > 0) {
      const empty = new Promise<void>((resolve) => (emptied = resolve));
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
      await Promise.race([empty, timeout]);
      clearTimeout(timer);
    }
    const closed = live.size;
    if (closed > 0) opts.logger.warn({ sessions: closed }, 'drain timeout: closing remaining sessions');
    for (const ctx of live.values()) endSession(ctx);
    limits.close();
    await listenerClosed;
    await pools?.close();
    await peers?.close();
    return { closed };
  }
  let drained: Promise<{ closed: number }> | null = null;
  return {
    port,
    host,
    metrics,
    view: { sessions: registry, cfg },
    get sessions() {
      return live.size;
    },
    get ready() {
      return !draining && server.listening;
    },
    refreshMetrics() {
      for (const ctx of live.values()) countBytes(ctx);
      if (pools) {
        const { total } = pools.stats();
        metrics.poolConnections.set({ state: 'in_use' }, total.inUse);
        metrics.poolConnections.set({ state: 'idle' }, total.idle);
        metrics.poolConnections.set({ state: 'waiting' }, total.waiting);
        metrics.poolConnections.set({ state: 'open' }, total.open);
      }
    },
    drain(timeoutMs) {
      drained ??= drainNow(timeoutMs);
      return drained;
    },
    async close() {
      draining = true;
      limits.close();
      const closed = stopListening();
      for (const ctx of live.values()) ctx.socket.destroy();
      await closed;
      await pools?.close();
      await peers?.close();
    },
  };
}

function ignore(): void {}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      reject(
        err.code === 'EADDRINUSE'
          ? new Error(`port ${port} on ${host} is already in use`)
          : new Error(`cannot listen on ${host}:${port}: ${err.message}`),
      );
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}
