// One client from greeting to goodbye, as a story of small steps.
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import {
  ProtocolError,
  generateScramble,
  isSslRequest,
  parseHandshakeResponse,
  writeErrPacket,
  writeGreeting,
  CLIENT_PLUGIN_AUTH,
  CLIENT_PROTOCOL_41,
  type HandshakeResponse,
} from '../protocol/index.js';
import { ProjectNotFoundError, WakeError } from '../control-client/errors.js';
import type { ComputeResolver } from '../control-client/types.js';
import {
  ClientError,
  accessDenied,
  badHandshake,
  computeUnavailable,
  internalError,
  packetTooLarge,
  shuttingDown,
} from './client-error.js';
import { BackendRefusedError, connectBackend, type BackendConnection } from './backend-connect.js';
import { ChannelClosedError, ChannelTimeoutError, PacketChannel } from './packet-channel.js';
import { authenticatePassthrough } from './passthrough-auth.js';
import { relayPipe } from './relay.js';
import { resolveRoute, type Route, type RoutingConfig } from './routing.js';
import type { GreetingProfile } from './greeting-profile.js';
import type { ProxyMetrics } from './metrics.js';
import type { ActivityTracker } from './activity.js';

export interface SessionConfig {
  resolver: ComputeResolver;
  routing: RoutingConfig;
  profile: GreetingProfile;
  handshakeTimeoutMs: number;
  wakeTimeoutMs: number;
  connectTimeoutMs: number;
  logger: Logger;
  metrics: ProxyMetrics;
  activity?: ActivityTracker;
}

export interface SessionContext {
  id: number;
  socket: Socket;
  cfg: SessionConfig;
  log: Logger;
  client: PacketChannel;
  /** Aborted when the client leaves or the server shuts down: stops any wait on its behalf. */
  abort: AbortController;
  /** Our scramble from the greeting. */
  scramble: Buffer;
  clientAddress: string;
  startedAt: number;
  /** Bytes already added to the metrics, so scrapes and the end count each byte once. */
  counted: { in: number; out: number };
  /** Set once bytes flow: from then on a failure closes the connection, it never injects packets. */
  relaying: boolean;
}

const HANDSHAKE_MAX_PACKET = 64 * 1024;

export function createSession(id: number, socket: Socket, cfg: SessionConfig): SessionContext {
  const clientAddress = socket.remoteAddress ?? 'unknown';
  const log = cfg.logger.child({ conn: id, client: `${clientAddress}:${socket.remotePort ?? 0}` });
  socket.setNoDelay(true);
  return {
    id,
    socket,
    cfg,
    log,
    client: new PacketChannel(socket, 'client', HANDSHAKE_MAX_PACKET),
    abort: new AbortController(),
    scramble: Buffer.alloc(0),
    clientAddress,
    startedAt: performance.now(),
    counted: { in: 0, out: 0 },
    relaying: false,
  };
}

export async function runSession(ctx: SessionContext): Promise<void> {
  const onClientGone = () => ctx.abort.abort(new Error('client went away'));
  ctx.socket.once('close', onClientGone);
  let backend: BackendConnection | undefined;
  try {
    sendGreeting(ctx);
    const hello = await readHandshakeResponse(ctx);
    const route = resolveRoute(ctx.cfg.routing, hello.user, hello.database);
    ctx.log = ctx.log.child({ project: route.project, user: route.backendUser });
    backend = await wakeAndConnect(ctx, route);
    const authStarted = performance.now();
    const auth = await authenticatePassthrough(
      ctx.client,
      hello,
      route.backendUser,
      backend,
      ctx.cfg.handshakeTimeoutMs,
    );
    const { metrics } = ctx.cfg;
    metrics.connectPhase.observe({ phase: 'auth' }, (performance.now() - authStarted) / 1000);
    if (!auth.ok) {
      ctx.client.write(auth.final.payload, auth.final.sequenceId);
      ctx.cfg.metrics.connectionsRefused.inc({ reason: 'access_denied' });
      ctx.log.info({ reason: 'access_denied' }, 'authentication refused by compute');
      closeSoon(ctx.socket);
      return;
    }
    metrics.connectPhase.observe({ phase: 'total' }, (performance.now() - ctx.startedAt) / 1000);
    ctx.cfg.profile.learn(backend.greeting);
    const clientLeft = ctx.client.detach();
    const backendLeft = backend.channel.detach();
    ctx.client.write(auth.final.payload, auth.final.sequenceId);
    ctx.relaying = true;
    ctx.log.info(
      { readyMs: round(performance.now() - ctx.startedAt), compute: backend.addr.computeId },
      'session ready',
    );
    const untrack = route.project ? ctx.cfg.activity?.track(route.project, ctx.socket) : undefined;
    const why = await relayPipe(ctx.socket, backend.socket, clientLeft, backendLeft);
    untrack?.();
    countBytes(ctx);
    ctx.log.info(
      {
        reason: why,
        durationMs: round(performance.now() - ctx.startedAt),
        bytesIn: ctx.socket.bytesRead,
        bytesOut: ctx.socket.bytesWritten,
      },
      'session closed',
    );
  } catch (err) {
    backend?.socket.destroy();
    failSession(ctx, err);
  } finally {
    ctx.socket.off('close', onClientGone);
  }
}

function sendGreeting(ctx: SessionContext): void {
  ctx.scramble = generateScramble();
  ctx.client.write(writeGreeting(ctx.cfg.profile.greeting(ctx.id, ctx.scramble)), 0);
}

async function readHandshakeResponse(ctx: SessionContext): Promise<HandshakeResponse> {
  const packet = await ctx.client.read(ctx.cfg.handshakeTimeoutMs, 'handshake response');
  if (isSslRequest(packet.payload)) {
    throw badHandshake('this proxy has no TLS certificate configured; connect without SSL');
  }
  let hello: HandshakeResponse;
  try {
    hello = parseHandshakeResponse(packet.payload);
  } catch (err) {
    throw badHandshake((err as Error).message, err);
  }
  // Checked before any wake: every way of authenticating here needs an auth switch.
  if ((hello.capabilities & CLIENT_PLUGIN_AUTH) === 0) {
    throw badHandshake('client does not support pluggable authentication (CLIENT_PLUGIN_AUTH)');
  }
  return hello;
}

/**
 * Wake the project's compute (or find it awake) and open a connection to it.
 * A connect that fails drops the address and wakes once more: the compute may
 * have been suspended since the address was cached.
 */
async function wakeAndConnect(ctx: SessionContext, route: Route): Promise<BackendConnection> {
  const project = route.project ?? '(static)';
  const { resolver, wakeTimeoutMs, connectTimeoutMs } = ctx.cfg;
  const { metrics } = ctx.cfg;
  for (let attempt = 1; ; attempt++) {
    const signal = AbortSignal.any([ctx.abort.signal, AbortSignal.timeout(wakeTimeoutMs)]);
    let addr;
    const wakeStarted = performance.now();
    metrics.clientsWaiting.inc();
    try {
      addr = await resolver.resolve(project, signal);
      metrics.wakeRequests.inc({ outcome: 'ok' });
    } catch (err) {
      const failure = explainWakeFailure(ctx, project, route, err, wakeTimeoutMs);
      metrics.wakeRequests.inc({ outcome: failure instanceof ClientError ? failure.kind : 'client_left' });
      throw failure;
    } finally {
      metrics.clientsWaiting.dec();
    }
    metrics.connectPhase.observe({ phase: 'wake' }, (performance.now() - wakeStarted) / 1000);
    const connectStarted = performance.now();
    try {
      const backend = await connectBackend(addr, connectTimeoutMs, ctx.abort.signal);
      metrics.connectPhase.observe({ phase: 'backend_connect' }, (performance.now() - connectStarted) / 1000);
      return backend;
    } catch (err) {
      if (err instanceof BackendRefusedError) throw err;
      resolver.invalidate(project, addr);
      if (attempt >= 2 || ctx.abort.signal.aborted) {
        throw computeUnavailable(project, (err as Error).message, 'backend_connect_failed', err);
      }
      ctx.log.warn({ err: (err as Error).message, host: addr.host, port: addr.port }, 'connect failed, waking again');
    }
  }
}

function explainWakeFailure(
  ctx: SessionContext,
  project: string,
  route: Route,
  err: unknown,
  wakeTimeoutMs: number,
): Error {
  if (err instanceof ProjectNotFoundError) {
    // Same answer as a wrong password: do not reveal which projects exist.
    return accessDenied(route.backendUser, ctx.clientAddress, true);
  }
  if (err instanceof WakeError) {
    return computeUnavailable(project, err.message, `wake_${err.reason}`, err);
  }
  if (ctx.abort.signal.aborted) return err as Error;
  if ((err as Error)?.name === 'TimeoutError') {
    return computeUnavailable(project, `not ready within ${wakeTimeoutMs} ms`, 'wake_timeout', err);
  }
  return computeUnavailable(project, 'control plane error', 'wake_error', err);
}

/** The one exit for failures: an ERR packet where the protocol allows it, a log line, a close. */
function failSession(ctx: SessionContext, err: unknown): void {
  if (err instanceof BackendRefusedError) {
    ctx.cfg.metrics.connectionsRefused.inc({ reason: 'backend_refused' });
    ctx.client.write(err.packet.payload, ctx.client.nextSequenceId);
    ctx.log.warn({ reason: 'backend_refused' }, 'compute refused the connection');
    closeSoon(ctx.socket);
    return;
  }
  const clientError = toClientError(ctx, err);
  const gone = err instanceof ChannelClosedError && err.side === 'client';
  const reason = gone || ctx.abort.signal.aborted ? 'client_left' : clientError.kind;
  ctx.cfg.metrics.connectionsRefused.inc({ reason });
  if (reason !== 'client_left' && reason !== 'access_denied') ctx.cfg.metrics.sessionErrors.inc({ kind: reason });
  if (gone || ctx.abort.signal.aborted) {
    ctx.log.info({ reason: 'client_left', durationMs: round(performance.now() - ctx.startedAt) }, 'client left during handshake');
  } else if (clientError.kind === 'internal') {
    ctx.log.error({ err }, 'session failed');
  } else {
    ctx.log.warn({ reason: clientError.kind, cause: causeOf(err) }, clientError.message);
  }
  if (!ctx.socket.destroyed && !gone && !ctx.abort.signal.aborted) {
    ctx.client.write(
      writeErrPacket(
        { code: clientError.code, sqlState: clientError.sqlState, message: clientError.message },
        CLIENT_PROTOCOL_41,
      ),
      ctx.client.nextSequenceId,
    );
  }
  closeSoon(ctx.socket);
}

function toClientError(ctx: SessionContext, err: unknown): ClientError {
  if (err instanceof ClientError) return err;
  if (err instanceof ProtocolError) {
    return /exceeds max_packet_size/.test(err.message) ? packetTooLarge() : badHandshake(err.message, err);
  }
  if (err instanceof ChannelTimeoutError && err.side === 'client') {
    return badHandshake(`no ${err.what} within ${err.timeoutMs} ms`, err);
  }
  if (err instanceof ChannelClosedError && err.side === 'client') return badHandshake('client closed', err);
  return internalError(ctx.id);
}

function causeOf(err: unknown): string | undefined {
  const cause = (err as { cause?: unknown })?.cause;
  return cause instanceof Error ? cause.message : undefined;
}

/**
 * End a session from outside (shutdown): a client still in its handshake gets
 * ERR 1053; a relaying one is closed, since packets are never injected mid-stream.
 */
export function endSession(ctx: SessionContext): void {
  ctx.abort.abort(shuttingDown());
  if (!ctx.relaying && !ctx.socket.destroyed) {
    const e = shuttingDown();
    ctx.client.write(writeErrPacket({ code: e.code, sqlState: e.sqlState, message: e.message }, CLIENT_PROTOCOL_41), ctx.client.nextSequenceId);
    closeSoon(ctx.socket);
  } else {
    ctx.socket.destroy();
  }
}

/** Add the bytes moved since the last count to the metrics (at scrape time and at the end). */
export function countBytes(ctx: SessionContext): void {
  if (!ctx.relaying) return;
  const { bytesRead, bytesWritten } = ctx.socket;
  ctx.cfg.metrics.bytesRelayed.inc({ direction: 'client_to_backend' }, bytesRead - ctx.counted.in);
  ctx.cfg.metrics.bytesRelayed.inc({ direction: 'backend_to_client' }, bytesWritten - ctx.counted.out);
  ctx.counted.in = bytesRead;
  ctx.counted.out = bytesWritten;
}

/** Let a final packet drain, then make sure the socket is gone. */
function closeSoon(socket: Socket): void {
  socket.end();
  setTimeout(() => socket.destroy(), 1_000).unref();
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
