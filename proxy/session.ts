// One client from greeting to goodbye, as a story of small steps.
import { authenticatePassthrough } from './passthrough-auth.js';
import { relayPipe } from './relay.js';
import { resolveRoute } from './routing.js';
import { readHandshakeResponse, sendGreeting } from './client-handshake.js';
import { wakeAndConnect } from './wake-and-connect.js';
import { closeSoon, countBytes, failSession } from './session-exit.js';
import { round, type SessionContext } from './session-context.js';
import type { BackendConnection } from './backend-connect.js';

export async function runSession(ctx: SessionContext): Promise<void> {
  const rawSocket = ctx.socket;
  const onClientGone = () => ctx.abort.abort(new Error('client went away'));
  rawSocket.once('close', onClientGone);
  let backend: BackendConnection | undefined;
  let releaseSlot: (() => void) | undefined;
  const { metrics } = ctx.cfg;
  try {
    sendGreeting(ctx);
    const hello = await readHandshakeResponse(ctx);
    const route = resolveRoute(ctx.cfg.routing, hello.user, hello.database, ctx.servername);
    ctx.log = ctx.log.child({ project: route.project, user: route.backendUser, tls: ctx.servername !== undefined || undefined });
    if (route.project) releaseSlot = ctx.cfg.limits.admitConnection(route.project);
    backend = await wakeAndConnect(ctx, route);
    const authStarted = performance.now();
    const auth = await authenticatePassthrough(ctx.client, hello, route, backend, ctx.cfg.handshakeTimeoutMs);
    metrics.connectPhase.observe({ phase: 'auth' }, (performance.now() - authStarted) / 1000);
    if (!auth.ok) {
      ctx.client.write(auth.final.payload, auth.final.sequenceId);
      metrics.connectionsRefused.inc({ reason: 'access_denied' });
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
    ctx.log.info({ readyMs: round(performance.now() - ctx.startedAt), compute: backend.addr.computeId }, 'session ready');
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
    releaseSlot?.();
    rawSocket.off('close', onClientGone);
  }
}
