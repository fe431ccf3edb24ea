// Passthrough: the session's own compute connection, logged in by relaying the
// client's answers to the compute, which judges them. A client greeted with the
// scramble of a connection opened at accept (compute-at-accept.ts) logs in there
// with its handshake as it is; any other is switched to its compute's scramble.
import type { HandshakeResponse } from '../protocol/index.js';
import { BackendRefusedError, BackendTlsError, connectBackend, type BackendConnection } from '../backend/connect.js';
import { ChannelClosedError } from '../socket/packet-channel.js';
import { computeUnavailable } from './client-error.js';
import { authenticatePassthrough } from './passthrough-auth.js';
import { wakeAndConnect } from './wake-and-connect.js';
import { limitKey, type Route } from './routing.js';
import type { SessionContext } from './session-context.js';
import type { ComputeAtAccept } from './compute-at-accept.js';
import type { OwnBackend } from './attached-backend.js';
import { PHASE } from './metrics.js';


/** Returns null when the compute refused the client (its ERR already forwarded). */
export async function attachPassthrough(
  ctx: SessionContext,
  hello: HandshakeResponse,
  route: Route,
  early: ComputeAtAccept | null,
): Promise<OwnBackend | null> {
  let backend = early?.takeGreeted(ctx, ctx.scramble) ?? (await connectToSwitch(ctx, route, early));
  try {
    const authStarted = performance.now();
    const auth = await authenticatePassthrough(ctx.client, hello, route, backend, ctx.scramble, ctx.cfg.handshakeTimeoutMs, ctx.cfg.backendTls);
    backend = auth.backend;
    ctx.cfg.metrics.connectPhase.observe(PHASE.auth, (performance.now() - authStarted) / 1000);
    if (!auth.ok) {
      ctx.client.write(auth.final.payload, auth.final.sequenceId);
      backend.socket.destroy();
      return null;
    }
    // Only a proxy that judges logins itself needs the address (a getsockname per connection otherwise).
    if (ctx.cfg.verifiers) ctx.cfg.sourceAddress.learn(backend.socket.localAddress);
    const clientLeftover = ctx.client.detach();
    const backendLeftover = backend.channel.detach();
    ctx.client.write(auth.final.payload, auth.final.sequenceId);
    return { kind: 'own', addr: backend.addr, socket: backend.socket, greeting: backend.greeting, clientLeftover, backendLeftover };
  } catch (err) {
    backend.socket.destroy();
    // Hanging up instead of answering the compute is a failed login: it must not dodge the limiter.
    if (err instanceof ChannelClosedError && err.side === 'client') ctx.cfg.limits.recordAuthFailure(limitKey(route), ctx.clientAddress);
    if (err instanceof BackendTlsError) {
      throw computeUnavailable(limitKey(route), err.message, 'backend_tls_failed', err);
    }
    throw err;
  }
}

/**
 * A compute connection for a client greeted with the proxy's own scramble (or one
 * whose connection from accept closed meanwhile), waking the compute if need be.
 * A connect made at accept to the same address stands as the first attempt.
 */
async function connectToSwitch(ctx: SessionContext, route: Route, early: ComputeAtAccept | null): Promise<BackendConnection> {
  // The client's login is not complete until it answers the compute's auth switch: one that
  // half-closes before it never can, so its wait ends and nothing is woken for it.
  ctx.client.onFailure((err) => ctx.abort.abort(err));
  // A FIN sent with the login is read one poll of the event loop after it: looked for
  // before a wake is asked for (a cached address needs none).
  if (!ctx.cfg.resolver.cached?.(limitKey(route))) await nextPoll();
  const backend = await wakeAndConnect(ctx, route, {
    open: (addr, signal) => early?.take(addr) ?? connectBackend(addr, ctx.cfg.connectTimeoutMs, signal),
    isFinal: (err) => err instanceof BackendRefusedError || err instanceof BackendTlsError,
  });
  ctx.client.onFailure(null);
  if (ctx.abort.signal.aborted) {
    backend.socket.destroy();
    throw ctx.abort.signal.reason;
  }
  return backend;
}

/** Resolves once the event loop has polled its sockets again (a setImmediate runs before the next poll, the second after it). */
function nextPoll(): Promise<void> {
  return new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
}
