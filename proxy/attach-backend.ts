// The two ways a session gets a logged-in compute connection: passthrough (the
// compute judges the client's answer) and verified (the proxy logs in itself
// with the stage1 it recovered).
import type { Socket } from 'node:net';
import {
  SERVER_STATUS_AUTOCOMMIT,
  writeOkPacket,
  type Greeting,
  type HandshakeResponse,
} from '../protocol/index.js';
import { BackendLoginError, loginBackend, poolCapabilities, type BackendKey } from '../pool/backend-login.js';
import type { BackendAddress } from '../control-client/types.js';
import { BackendRefusedError, connectBackend } from './backend-connect.js';
import { ClientError } from './client-error.js';
import { authenticatePassthrough } from './passthrough-auth.js';
import { wakeAndConnect } from './wake-and-connect.js';
import type { Route } from './routing.js';
import type { SessionContext } from './session-context.js';

export interface AttachedBackend {
  addr: BackendAddress;
  socket: Socket;
  greeting: Greeting;
  /** Bytes each side sent before the relay takes over. */
  clientLeftover: Buffer;
  backendLeftover: Buffer;
}

/** Passthrough: returns null when the compute refused the client (its ERR already forwarded). */
export async function attachPassthrough(
  ctx: SessionContext,
  hello: HandshakeResponse,
  route: Route,
): Promise<AttachedBackend | null> {
  const backend = await wakeAndConnect(ctx, route, {
    open: (addr, signal) => connectBackend(addr, ctx.cfg.connectTimeoutMs, signal),
    isFinal: (err) => err instanceof BackendRefusedError,
  });
  try {
    const authStarted = performance.now();
    const auth = await authenticatePassthrough(ctx.client, hello, route, backend, ctx.cfg.handshakeTimeoutMs);
    ctx.cfg.metrics.connectPhase.observe({ phase: 'auth' }, (performance.now() - authStarted) / 1000);
    if (!auth.ok) {
      ctx.client.write(auth.final.payload, auth.final.sequenceId);
      backend.socket.destroy();
      return null;
    }
    const clientLeftover = ctx.client.detach();
    const backendLeftover = backend.channel.detach();
    ctx.client.write(auth.final.payload, auth.final.sequenceId);
    return { addr: backend.addr, socket: backend.socket, greeting: backend.greeting, clientLeftover, backendLeftover };
  } catch (err) {
    backend.socket.destroy();
    throw err;
  }
}

/** The pool key of a verified client: what makes a compute connection fit it. */
export function backendKey(addr: BackendAddress, hello: HandshakeResponse, route: Route, negotiated: number): BackendKey {
  return {
    addr,
    user: route.backendUser,
    database: route.database,
    capabilities: poolCapabilities(negotiated, route.database),
    mariadbCapabilities: hello.mariadbCapabilities,
    charset: hello.charset,
  };
}

/** Verified: the proxy logs into the compute with stage1, then tells the client OK itself. */
export async function attachVerified(
  ctx: SessionContext,
  hello: HandshakeResponse,
  route: Route,
  stage1: Buffer,
): Promise<AttachedBackend> {
  const negotiated = (hello.capabilities & ctx.cfg.profile.capabilities) >>> 0;
  const login = await wakeAndConnect(ctx, route, {
    open: (addr, signal) =>
      loginBackend(backendKey(addr, hello, route, negotiated), stage1, {
        timeoutMs: ctx.cfg.connectTimeoutMs,
        connectAttributes: hello.connectAttributes,
      }, signal),
    isFinal: (err) => err instanceof BackendLoginError && err.kind !== 'failed',
  }).catch((err: unknown) => {
    throw loginFailure(ctx, route, err);
  });
  const clientLeftover = ctx.client.detach();
  ctx.client.write(
    writeOkPacket({ affectedRows: 0, lastInsertId: 0, statusFlags: SERVER_STATUS_AUTOCOMMIT, warnings: 0, info: '' }, negotiated),
    ctx.client.nextSequenceId,
  );
  return { addr: login.addr, socket: login.socket, greeting: login.greeting, clientLeftover, backendLeftover: Buffer.alloc(0) };
}

/**
 * The compute refused a login the verifier allowed: the verifier is stale (the
 * password changed). Forget it and pass the compute's own error on.
 */
export function loginFailure(ctx: SessionContext, route: Route, err: unknown): unknown {
  if (!(err instanceof BackendLoginError) || !err.serverError) return err;
  if (err.kind === 'denied') ctx.cfg.verifiers?.invalidate(route.project!, route.backendUser);
  const e = err.serverError;
  return new ClientError(e.code, e.sqlState, e.message, err.kind === 'denied' ? 'access_denied' : 'backend_refused', { cause: err });
}
