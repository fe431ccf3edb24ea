// One client from greeting to goodbye, as a story of small steps.
import { relayPipe } from './relay.js';
import { resolveRoute } from './routing.js';
import { readHandshakeResponse, sendGreeting } from './client-handshake.js';
import { checkCredentials } from './credential-check.js';
import { attachPassthrough, attachVerified, type AttachedBackend } from './attach-backend.js';
import { relaySession } from '../pool/session-relay.js';
import { closeSoon, countBytes, failSession } from './session-exit.js';
import { round, type SessionContext } from './session-context.js';

export async function runSession(ctx: SessionContext): Promise<void> {
  const rawSocket = ctx.socket;
  const onClientGone = () => ctx.abort.abort(new Error('client went away'));
  rawSocket.once('close', onClientGone);
  let releaseSlot: (() => void) | undefined;
  const { metrics } = ctx.cfg;
  try {
    sendGreeting(ctx);
    const hello = await readHandshakeResponse(ctx);
    const route = resolveRoute(ctx.cfg.routing, hello.user, hello.database, ctx.servername);
    ctx.log = ctx.log.child({ project: route.project, user: route.backendUser, tls: ctx.servername !== undefined || undefined });
    if (route.project) {
      ctx.cfg.limits.checkAuthFailures(route.project, ctx.clientAddress);
      releaseSlot = ctx.cfg.limits.admitConnection(route.project);
    }
    const checkStarted = performance.now();
    const creds = await checkCredentials(ctx, hello, route); // before any wake
    if (creds.kind === 'verified') metrics.connectPhase.observe({ phase: 'auth' }, (performance.now() - checkStarted) / 1000);
    const backend =
      creds.kind === 'verified'
        ? await attachVerified(ctx, hello, route, creds.stage1)
        : await attachPassthrough(ctx, hello, route);
    if (!backend) {
      if (route.project) ctx.cfg.limits.recordAuthFailure(route.project, ctx.clientAddress);
      metrics.connectionsRefused.inc({ reason: 'access_denied' });
      ctx.log.info({ reason: 'access_denied' }, 'authentication refused by compute');
      closeSoon(ctx.socket);
      return;
    }
    metrics.connectPhase.observe({ phase: 'total' }, (performance.now() - ctx.startedAt) / 1000);
    ctx.cfg.profile.learn(backend.greeting);
    ctx.relaying = true;
    ctx.log.info(
      { readyMs: round(performance.now() - ctx.startedAt), compute: backend.addr.computeId, auth: creds.kind },
      'session ready',
    );
    const untrack = route.project ? ctx.cfg.activity?.track(route.project, ctx.socket) : undefined;
    const why = await carry(ctx, backend);
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
    failSession(ctx, err);
  } finally {
    releaseSlot?.();
    rawSocket.off('close', onClientGone);
  }
}

/** Carry the session's bytes: a raw pipe, or a pooled backend that goes back reset at the end. */
async function carry(ctx: SessionContext, backend: AttachedBackend): Promise<string> {
  const { pooled } = backend;
  if (!pooled || !ctx.cfg.pools) {
    return relayPipe(ctx.socket, backend.socket, backend.clientLeftover, backend.backendLeftover);
  }
  const outcome = await relaySession(ctx.socket, backend.clientLeftover, pooled, { signal: ctx.abort.signal });
  await ctx.cfg.pools.release(pooled, { dirty: !outcome.reusable });
  return outcome.end;
}
