// The client's side of the handshake: our greeting, an optional TLS upgrade,
// and its HandshakeResponse41.
import {
  CLIENT_COMPRESS,
  CLIENT_PLUGIN_AUTH,
  CLIENT_SSL,
  generateScramble,
  isSslRequest,
  InvalidDatabaseNameError,
  UnreadableNameError,
  parseHandshakeResponse,
  type HandshakeResponse,
} from '../protocol/index.js';
import { badHandshake, invalidCharacterString, malformedHandshake, tlsRequired, tlsUnavailable } from './client-error.js';
import { HANDSHAKE_MAX_PACKET, PacketChannel } from '../socket/packet-channel.js';
import { projectFromSni } from './routing.js';
import type { SessionContext } from './session-context.js';
import { upgradeToTls } from './tls-upgrade.js';
import { deadline } from '../util/deadline.js';

/** `scramble`: the compute's, when the proxy connected to it at accept (compute-at-accept.ts); else one of the proxy's own. */
export function sendGreeting(ctx: SessionContext, scramble?: Buffer): void {
  ctx.scramble = scramble ?? generateScramble();
  // Compression is the client hop's own (session.ts wraps the socket after the login): offered always.
  const extra = (CLIENT_COMPRESS | (ctx.cfg.tls ? CLIENT_SSL : 0)) >>> 0;
  ctx.client.write(ctx.cfg.profile.greetingPayload(ctx.id, ctx.scramble, extra), 0);
}

export async function readHandshakeResponse(ctx: SessionContext): Promise<HandshakeResponse> {
  const { handshakeTimeoutMs } = ctx.cfg;
  let packet = await ctx.client.read(handshakeTimeoutMs, 'handshake response');
  if (isSslRequest(packet.payload)) {
    await upgradeClient(ctx);
    packet = await ctx.client.read(handshakeTimeoutMs, 'handshake response');
  } else if (ctx.cfg.requireTls) {
    throw tlsRequired();
  }
  let hello: HandshakeResponse;
  try {
    hello = parseHandshakeResponse(packet.payload);
  } catch (err) {
    if (err instanceof InvalidDatabaseNameError) throw invalidCharacterString(err.charset, err.bytes, err);
    // A name the proxy cannot read says why; a malformed packet gets the server's own words (the log has the detail).
    if (err instanceof UnreadableNameError) throw badHandshake(err.message, err);
    throw malformedHandshake(err);
  }
  // Checked before any wake: every way of authenticating here needs an auth switch.
  if ((hello.capabilities & CLIENT_PLUGIN_AUTH) === 0) {
    throw badHandshake('client does not support pluggable authentication (CLIENT_PLUGIN_AUTH)');
  }
  return hello;
}

async function upgradeClient(ctx: SessionContext): Promise<void> {
  const { tls } = ctx.cfg;
  if (!tls) throw tlsUnavailable();
  const leftover = ctx.client.detach();
  const secure = await upgradeToTls(ctx.socket, leftover, tls.context, ctx.cfg.handshakeTimeoutMs);
  ctx.socket = secure;
  ctx.servername = typeof secure.servername === 'string' ? secure.servername : undefined;
  ctx.client = new PacketChannel(secure, 'client', HANDSHAKE_MAX_PACKET);
  const project = projectFromSni(ctx.cfg.routing, ctx.servername);
  if (project) startEarlyWake(ctx, project);
}

/**
 * The server name already says which project: start waking it while the
 * client is still sending its credentials. The session's own resolve joins
 * this one (one wake in flight per project); failures surface there.
 */
function startEarlyWake(ctx: SessionContext, project: string): void {
  const bound = deadline(ctx.cfg.wakeTimeoutMs, ctx.abort.signal);
  ctx.cfg.resolver.resolve(project, bound.signal).then(
    () => bound.done(),
    () => bound.done(),
  );
}
