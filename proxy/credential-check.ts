// Proxy-verified authentication, before any wake: the client's answer to our
// scramble is checked against the verifier the control plane keeps, so a wrong
// password costs no compute. A right one yields stage1 = SHA1(password), with
// which the proxy logs into the compute itself.
import type { HandshakeResponse } from '../protocol/index.js';
import { RoleVerifierError, type RoleVerifier } from '../control-client/role-verifiers.js';
import { accessDenied } from './client-error.js';
import { verifyAuthSwitchResponse, verifyClient } from './verified-auth.js';
import type { Route } from './routing.js';
import type { SessionContext } from './session-context.js';

/** What to do with users the proxy cannot verify (unknown to the control plane, or another plugin). */
export type UnverifiedPolicy = 'passthrough' | 'refuse';

export type CredentialOutcome = { kind: 'verified'; stage1: Buffer } | { kind: 'passthrough' };

export async function checkCredentials(
  ctx: SessionContext,
  hello: HandshakeResponse,
  route: Route,
): Promise<CredentialOutcome> {
  const { verifiers, unverified, limits } = ctx.cfg;
  if (!verifiers || !route.project) return { kind: 'passthrough' };
  limits.checkAuthFailures(route.project, ctx.clientAddress);
  let verifier: RoleVerifier;
  try {
    verifier = await verifiers.get(route.project, route.backendUser, ctx.abort.signal);
  } catch (err) {
    if (!(err instanceof RoleVerifierError)) throw err;
    // The control API cannot say: the compute judges the password instead.
    ctx.log.warn({ reason: 'verifier_unavailable', cause: err.message }, 'verifier unavailable; passthrough');
    return { kind: 'passthrough' };
  }
  if (!(verifier instanceof Buffer)) {
    if (unverified === 'passthrough') return { kind: 'passthrough' };
    throw denied(ctx, route);
  }
  let check = verifyClient(hello, ctx.scramble, verifier);
  if (!check.ok && check.switchRequired) {
    ctx.client.write(check.authSwitchRequest, ctx.client.nextSequenceId);
    const answer = await ctx.client.read(ctx.cfg.handshakeTimeoutMs, 'auth switch response');
    check = verifyAuthSwitchResponse(answer.payload, ctx.scramble, verifier);
  }
  if (!check.ok) throw denied(ctx, route);
  return { kind: 'verified', stage1: check.stage1 };
}

function denied(ctx: SessionContext, route: Route) {
  ctx.cfg.limits.recordAuthFailure(route.project!, ctx.clientAddress);
  return accessDenied(route.backendUser, ctx.clientAddress, true);
}
