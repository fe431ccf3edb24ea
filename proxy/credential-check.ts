// Proxy-verified authentication, before any wake: the client's answer to our
// scramble is checked against the verifier the control plane keeps, so a wrong
// password costs no compute. A right one yields stage1 = SHA1(password), with
// which the proxy logs into the compute itself.
//
// Fail closed: whatever the proxy cannot judge is refused, never handed to the
// compute by default. Only an account whose method the compute alone can check
// (ed25519, PAM, ...) goes through to it, and only by the operator's policy.
import type { HandshakeResponse } from '../protocol/index.js';
import { NATIVE_PASSWORD_PLUGIN, OLD_PASSWORD_PLUGIN, localSocketOnly, unusableThroughProxy } from '../protocol/index.js';
import { RoleVerifierError, type OtherMethod, type RoleVerifier } from '../control-client/verifiers.js';
import { accessDenied, accessDeniedNoPassword, cannotVerify, oldPasswordRefused, type ClientError } from './client-error.js';
import { ChannelClosedError } from '../socket/packet-channel.js';
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
    // No verdict is not a wrong password, and never a reason to let the compute judge instead.
    throw cannotVerify(project, err);
  }
  const usingPassword = hello.authResponse.length > 0;
  if (verifier === null) {
    // The control plane knows no such user (it reads a compute's accounts while awake and before it sleeps).
    if (unknownUsers === 'passthrough') return { kind: 'passthrough' };
    throw denied(ctx, route, accessDenied(route.backendUser, ctx.clientAddress, usingPassword));
  }
  if (!Buffer.isBuffer(verifier)) {
    const refusal = unusable(ctx, route, verifier, usingPassword);
    if (refusal) throw denied(ctx, route, refusal);
    if (otherPlugins === 'passthrough') return { kind: 'passthrough' };
    throw denied(ctx, route, accessDenied(route.backendUser, ctx.clientAddress, usingPassword));
  }
  let token = hello.authResponse;
  const first = verifyClient(hello, ctx.scramble, verifier);
  if (first.ok) return { kind: 'verified', stage1: first.stage1 };
  if (first.switchRequired) {
    ctx.client.write(first.authSwitchRequest, ctx.client.nextSequenceId);
    token = (await readSwitchAnswer(ctx, route)).payload;
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
  throw denied(ctx, route, accessDenied(route.backendUser, ctx.clientAddress, token.length > 0));
}

/**
 * The refusal for an account no password can open through a proxy, as the compute
 * would word it; undefined for a method the compute can judge.
 */
function unusable(ctx: SessionContext, route: Route, method: OtherMethod, usingPassword: boolean): ClientError | undefined {
  const { plugin } = method;
  if (localSocketOnly(plugin)) return accessDeniedNoPassword(route.backendUser, ctx.clientAddress);
  if (plugin === OLD_PASSWORD_PLUGIN) return oldPasswordRefused(route.backendUser, ctx.clientAddress);
  // A native account without a hash (root's 'invalid'): no password matches.
  if (plugin === NATIVE_PASSWORD_PLUGIN || unusableThroughProxy(plugin)) {
    return accessDenied(route.backendUser, ctx.clientAddress, usingPassword);
  }
  return undefined;
}

/** A client that hangs up instead of answering the switch is a failed login too. */
async function readSwitchAnswer(ctx: SessionContext, route: Route) {
  try {
    return await ctx.client.read(ctx.cfg.handshakeTimeoutMs, 'auth switch response');
  } catch (err) {
    if (err instanceof ChannelClosedError) ctx.cfg.limits.recordAuthFailure(limitKey(route), ctx.clientAddress);
    throw err;
  }
}

function denied(ctx: SessionContext, route: Route, refusal: ClientError): ClientError {
  ctx.cfg.limits.recordAuthFailure(limitKey(route), ctx.clientAddress);
  return refusal;
}
