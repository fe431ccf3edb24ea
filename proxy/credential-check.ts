// Proxy-verified authentication, before any wake: the client's answer to our
// scramble is checked against the verifier the control plane keeps, so a wrong
// password costs no compute. A right one yields stage1 = SHA1(password), with
// which the proxy logs into the compute itself.
import type { HandshakeResponse } from '../protocol/index.js';
import { RoleVerifierError, type RoleVerifier } from '../control-client/role-verifiers.js';
import { accessDenied } from './client-error.js';
import { verifyAuthSwitchResponse, verifyClient } from './verified-auth.js';
import { limitKey, type Route } from './routing.js';
import type { SessionContext } from './session-context.js';

/** What to do with users the proxy cannot verify: let the compute judge them, or refuse them. */
export type UnverifiedPolicy = 'passthrough' | 'refuse';

export type CredentialOutcome = { kind: 'verified'; stage1: Buffer } | { kind: 'passthrough' };

export async function checkCredentials(
  ctx: SessionContext,
  hello: HandshakeResponse,
  route: Route,
): Promise<CredentialOutcome> {
  const { verifiers, unknownUsers, otherPlugins } = ctx.cfg;
  if (!verifiers) return { kind: 'passthrough' };
  const project = limitKey(route);
  let verifier: RoleVerifier;
  try {
    verifier = await verifiers.get(project, route.backendUser, ctx.abort.signal);
  } catch (err) {
    if (!(err instanceof RoleVerifierError)) throw err;
    // The control API cannot say: the compute judges the password instead.
    ctx.log.warn({ reason: 'verifier_unavailable', cause: err.message }, 'verifier unavailable; passthrough');
    return { kind: 'passthrough' };
  }
  if (!(verifier instanceof Buffer)) {
    // null: the control plane knows no such user (it reads a compute's accounts while
    // awake and before it sleeps); 'unknown': an auth plugin only the compute can check.
    const policy = verifier === null ? unknownUsers : otherPlugins;
    if (policy === 'passthrough') return { kind: 'passthrough' };
    throw denied(ctx, route);
  }
  let token = hello.authResponse;
  const first = verifyClient(hello, ctx.scramble, verifier);
  if (first.ok) return { kind: 'verified', stage1: first.stage1 };
  if (first.switchRequired) {
    ctx.client.write(first.authSwitchRequest, ctx.client.nextSequenceId);
    token = (await ctx.client.read(ctx.cfg.handshakeTimeoutMs, 'auth switch response')).payload;
    const switched = verifyAuthSwitchResponse(token, ctx.scramble, verifier);
    if (switched.ok) return { kind: 'verified', stage1: switched.stage1 };
  }
  // No match: the password may have changed since the verifier was read. Ask once
  // more past every cache; the control plane re-reads the compute only if it is awake.
  const fresh = await verifiers.refresh(project, route.backendUser, ctx.abort.signal).catch(() => null);
  if (fresh instanceof Buffer && !fresh.equals(verifier)) {
    const again = verifyAuthSwitchResponse(token, ctx.scramble, fresh);
    if (again.ok) return { kind: 'verified', stage1: again.stage1 };
  }
  throw denied(ctx, route);
}

function denied(ctx: SessionContext, route: Route) {
  ctx.cfg.limits.recordAuthFailure(limitKey(route), ctx.clientAddress);
  return accessDenied(route.backendUser, ctx.clientAddress, true);
}
