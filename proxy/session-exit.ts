// The one way out of a failed session: an ERR packet where the protocol
// still allows one, one log line that says why, a close.
import type { Socket } from 'node:net';
import { CLIENT_PROTOCOL_41, ProtocolError, framePacket, messageBytes, writeErrPacket } from '../protocol/index.js';
import { ClientError, badHandshake, internalError, packetTooLarge, shuttingDown } from './client-error.js';
import { BackendRefusedError } from '../backend/connect.js';
import { ChannelClosedError, ChannelTimeoutError } from '../socket/packet-channel.js';
import { TlsHandshakeError } from './tls-upgrade.js';
import { round, type SessionContext } from './session-context.js';
import { closeSoon, destroyLater } from '../socket/socket-ends.js';

export function failSession(ctx: SessionContext, err: unknown): void {
  const { metrics } = ctx.cfg;
  if (err instanceof BackendRefusedError) {
    metrics.connectionsRefused.inc({ reason: 'backend_refused' });
    ctx.client.write(err.packet.payload, ctx.client.nextSequenceId);
    ctx.log.warn({ reason: 'backend_refused' }, 'compute refused the connection');
    closeSoon(ctx.socket);
    return;
  }
  if (err instanceof TlsHandshakeError) {
    // Nothing readable can be sent to a client whose TLS handshake failed.
    metrics.connectionsRefused.inc({ reason: 'tls_handshake_failed' });
    metrics.sessionErrors.inc({ kind: 'tls_handshake_failed' });
    ctx.log.warn({ reason: 'tls_handshake_failed', cause: err.message }, 'TLS handshake failed');
    ctx.socket.destroy();
    return;
  }
  const clientError = toClientError(ctx, err);
  const gone = (err instanceof ChannelClosedError && err.side === 'client') || ctx.abort.aborted;
  const reason = gone ? 'client_left' : clientError.kind;
  metrics.connectionsRefused.inc({ reason });
  if (!gone && reason !== 'access_denied') metrics.sessionErrors.inc({ kind: reason });
  if (gone) {
    ctx.log.info({ reason, durationMs: round(performance.now() - ctx.startedAt) }, 'client left during handshake');
  } else if (clientError.kind === 'internal') {
    ctx.log.error({ err }, 'session failed');
  } else {
    ctx.log.warn({ reason, cause: causeOf(err) }, clientError.message);
  }
  if (!gone && !ctx.socket.destroyed) sendError(ctx, clientError);
  closeSoon(ctx.socket);
}

/**
 * A statement of a transaction-pooled session got no backend (the wake or the login
 * failed): logged and counted like a failed connect, answered with an ERR; the session goes on.
 */
export function statementFailure(ctx: SessionContext, err: unknown): ClientError {
  const e = toClientError(ctx, err);
  ctx.cfg.metrics.sessionErrors.inc({ kind: e.kind });
  if (e.kind === 'internal') ctx.log.error({ err }, 'no backend for a statement');
  else ctx.log.warn({ reason: e.kind, cause: causeOf(err) }, e.message);
  return e;
}

/**
 * End a session from outside (shutdown): a client still in its handshake gets
 * ERR 1053; a relaying one is closed, since packets are never injected mid-stream.
 */
export function endSession(ctx: SessionContext): void {
  if (ctx.relaying) {
    ctx.socket.destroy();
    return;
  }
  ctx.abort.abort(shuttingDown());
  if (!ctx.socket.destroyed) {
    sendError(ctx, shuttingDown());
    closeSoon(ctx.socket);
  } else {
    ctx.socket.destroy();
  }
}

/** Refuse a client before any greeting (the server's own way for "too many connections"). */
export function refuseBeforeGreeting(socket: Socket, e: ClientError): void {
  socket.end(framePacket(writeErrPacket({ code: e.code, sqlState: e.sqlState, message: e.message }, CLIENT_PROTOCOL_41), 0));
  destroyLater(socket);
}

function sendError(ctx: SessionContext, e: ClientError): void {
  ctx.client.write(
    // After the handshake, in the client's character set, as the server converts its own messages.
    writeErrPacket(
      { code: e.code, sqlState: e.sqlState, message: e.message },
      ctx.preProtocol41 ? 0 : CLIENT_PROTOCOL_41,
      ctx.collation === undefined ? undefined : messageBytes(e.message, ctx.collation),
    ),
    ctx.client.nextSequenceId,
  );
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

/** Add the bytes moved since the last count to the metrics (at scrape time and at the end). */
export function countBytes(ctx: SessionContext): void {
  if (!ctx.relaying) return;
  const { bytesRead, bytesWritten } = ctx.socket;
  const { pending } = ctx.cfg.metrics;
  pending.bytesIn.n += bytesRead - ctx.counted.in;
  pending.bytesOut.n += bytesWritten - ctx.counted.out;
  ctx.counted.in = bytesRead;
  ctx.counted.out = bytesWritten;
}

