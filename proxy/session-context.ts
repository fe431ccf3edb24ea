// What one session knows and carries from step to step.
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { ComputeResolver } from '../control-client/types.js';
import { HANDSHAKE_MAX_PACKET, PacketChannel } from '../socket/packet-channel.js';
import { SessionLog } from './session-log.js';
import type { RoutingConfig } from './routing.js';
import type { GreetingProfile } from './greeting-profile.js';
import type { ControlGreeting } from './control-greeting.js';
import type { ProxyMetrics } from './metrics.js';
import type { ActivityTracker } from './activity.js';
import type { TlsContextHolder } from './tls-context.js';
import type { ProjectLimits } from './limits.js';
import type { RoleVerifierClient } from '../control-client/verifiers.js';
import type { UnverifiedPolicy } from './credential-check.js';
import type { BackendPools } from '../pool/backend-pool.js';
import type { BackendTlsOptions } from '../backend/connect.js';
import type { PasswordErrorStore } from '../accounts/password-errors.js';
import type { SourceAddress } from './source-address.js';
import type { KillSupport } from './kill/session-kill.js';
import type { KillTarget } from './kill/session-registry.js';
import type { StateFields } from './session-state.js';
import type { StoredCodeRegistry } from './stored-code-registry.js';
import type { AbortListener, AbortWatch } from '../util/abort.js';

/** How a verified client uses the pools: for its whole session, or per transaction. */
export type PoolMode = 'session' | 'transaction';

/** Pooling on: verified clients borrow logged-in compute connections from `pools`. */
export interface PoolsInUse {
  mode: PoolMode;
  pools: BackendPools;
  /** Transaction pooling: binary prepared statements kept per pooled connection. */
  statementsPerConnection?: number;
}

/**
 * How sessions get compute connections. In `pipe` mode there are no pools and each
 * client gets its own; unverified (passthrough) clients always do.
 */
export type Pooling = { mode: 'pipe' } | PoolsInUse;

export interface SessionConfig {
  resolver: ComputeResolver;
  routing: RoutingConfig;
  profile: GreetingProfile;
  /** In front of a control plane: asks it for the computes' greeting until the profile has learned one. */
  controlGreeting?: ControlGreeting;
  handshakeTimeoutMs: number;
  wakeTimeoutMs: number;
  /** A client that half-closed and reads nothing: how long a write to it may make no progress. */
  halfClosedWriteTimeoutMs: number;
  connectTimeoutMs: number;
  /** Passthrough with the compute known before the handshake: connect at accept and greet with its scramble (compute-at-accept.ts). */
  connectAtAccept: boolean;
  logger: Logger;
  metrics: ProxyMetrics;
  limits: ProjectLimits;
  activity?: ActivityTracker;
  /** Present when the proxy has a certificate: CLIENT_SSL is then advertised. */
  tls?: TlsContextHolder;
  requireTls: boolean;
  /** Present when the proxy verifies passwords itself (needs the control API). */
  verifiers?: RoleVerifierClient;
  /** Users the control plane does not know. */
  unknownUsers: UnverifiedPolicy;
  /** Users whose auth plugin only the compute can check (ed25519, ...). */
  otherPlugins: UnverifiedPolicy;
  pooling: Pooling;
  /** The address computes see this proxy connect from: accounts are matched against it. */
  sourceAddress: SourceAddress;
  /** Failed-password counters for max_password_errors. */
  passwordErrors: PasswordErrorStore;
  /** TLS from the proxy to computes. */
  backendTls?: BackendTlsOptions;
  /** Session ids and KILL (proxy/kill/). */
  kill: KillSupport;
  /** Transaction pooling with verified logins: each compute's stored code that pins. */
  storedCode?: StoredCodeRegistry;
}

/** What the admin console reads of a session besides its socket: state fields (session-state.ts) and who it is. */
export interface SessionContext extends StateFields {
  id: number;
  /** The client's socket; replaced by the TLS socket after an upgrade. */
  socket: Socket;
  cfg: SessionConfig;
  log: SessionLog;
  client: PacketChannel;
  /** Aborted when the client leaves or the server shuts down: stops any wait on its behalf. */
  abort: SessionAbort;
  /** Our scramble from the greeting. */
  scramble: Buffer;
  clientAddress: string;
  startedAt: number;
  /** TLS server name the client asked for, if it upgraded. */
  servername: string | undefined;
  /** The client's handshake says it speaks below protocol 4.1: its ERR has no SQLSTATE, as MariaDB writes it. */
  preProtocol41: boolean;
  /** Bytes already added to the metrics, so scrapes and the end count each byte once. */
  counted: { in: number; out: number };
  /** Set once bytes flow: from then on a failure closes the connection, it never injects packets. */
  relaying: boolean;
  /** What another session's KILL of this one acts on; set once bytes flow. */
  target: KillTarget | undefined;
  /** Ended by a KILL CONNECTION from another session, or from the admin console. */
  killed: boolean;
  /** Once the handshake names them: the project (undefined with a static backend and no --project) and the user the compute knows. */
  project: string | undefined;
  user: string | undefined;
  /** Once the handshake says it: the client's collation, in whose character set its login's errors are written. */
  collation: number | undefined;
  /** Once bytes flow: how the login went, logged with the session's end (one line a session). */
  ready: { readyMs: number; compute: string | undefined; auth: string } | undefined;
}


const EMPTY = Buffer.alloc(0);

/**
 * What stops the waits made on a session's behalf (a wake, an account read, a connect)
 * when its client leaves or the proxy shuts down. It is an AbortWatch itself, for the
 * waits that take one (a connect to a known compute); its AbortController is made only
 * when something needs a real AbortSignal: a login served from caches never does.
 */
export class SessionAbort implements AbortWatch {
  private controller: AbortController | null = null;
  /** Why it was aborted; for a client that left, made when first asked for. */
  private why: unknown = undefined;
  private done = false;
  /** Told once, at the abort. */
  private listeners: AbortListener[] | null = null;

  /** `inert`: a stand-in that never aborts (a relaying session has nothing waiting). */
  constructor(private readonly inert = false) {}

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.done) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  get aborted(): boolean {
    return this.done;
  }

  get reason(): unknown {
    if (!this.done) return undefined;
    return (this.why ??= clientGone());
  }

  /** Every listener is called once: `once` is how it behaves anyway. An inert one (shared by every relaying session) keeps none. */
  addEventListener(_type: 'abort', listener: AbortListener, _options?: { once?: boolean }): void {
    if (!this.done && !this.inert) (this.listeners ??= []).push(listener);
  }

  removeEventListener(_type: 'abort', listener: AbortListener): void {
    const at = this.listeners?.indexOf(listener) ?? -1;
    if (at >= 0) this.listeners!.splice(at, 1);
  }

  abort(reason: unknown): void {
    if (this.done || this.inert) return;
    this.done = true;
    this.why = reason;
    this.tell();
  }

  /** The client's socket closed. */
  clientGone(): void {
    if (this.done || this.inert) return;
    this.done = true;
    this.tell();
  }

  private tell(): void {
    this.controller?.abort(this.reason);
    const listeners = this.listeners;
    this.listeners = null;
    if (listeners) for (const listener of listeners) typeof listener === 'function' ? listener() : listener.handleEvent();
  }
}

function clientGone(): Error {
  return new Error('client went away');
}

export function createSession(id: number, socket: Socket, cfg: SessionConfig): SessionContext {
  const clientAddress = socket.remoteAddress ?? 'unknown';
  const log = new SessionLog(cfg.logger, id, `${clientAddress}:${socket.remotePort ?? 0}`);
  socket.setNoDelay(true);
  const now = performance.now();
  return {
    id,
    socket,
    cfg,
    log,
    client: new PacketChannel(socket, 'client', HANDSHAKE_MAX_PACKET),
    abort: new SessionAbort(),
    scramble: EMPTY,
    clientAddress,
    startedAt: now,
    servername: undefined,
    preProtocol41: false,
    counted: { in: 0, out: 0 },
    relaying: false,
    target: undefined,
    killed: false,
    project: undefined,
    user: undefined,
    collation: undefined,
    ready: undefined,
    state: 'handshake',
    stateSince: now,
    pin: null,
  };
}

export function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
