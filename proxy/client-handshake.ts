// The client's side of the handshake: our greeting, an optional TLS upgrade,
// and its HandshakeResponse41.
import {
  CLIENT_COMPRESS,
  CLIENT_PROTOCOL_41,
  CLIENT_SECURE_CONNECTION,
  CLIENT_SSL,
  generateScramble,
  isSslRequest,
  InvalidDatabaseNameError,
  RefusedClientCharsetError,
  UnreadableNameError,
  parseHandshakeResponse,
  type HandshakeResponse,
  type Packet,
} from '../protocol/index.js';
import { authModeUnsupported, badHandshake, clientCharsetRefused, invalidCharacterString, malformedHandshake, tlsRequired, tlsUnavailable, type ClientError } from './client-error.js';
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

/**
 * The client's HandshakeResponse41 from its first packet; null when that packet asks
 * for TLS (helloAfterTls then upgrades and reads the real one). Split so that a login
 * without TLS reads its first packet with no promise beyond the read's own.
 */
export function helloFrom(ctx: SessionContext, packet: Packet): HandshakeResponse | null {
  if (isSslRequest(packet.payload)) return null;
  if (ctx.cfg.requireTls) throw tlsRequired();
  return parseHello(ctx, packet);
}

/** After an SSLRequest: TLS, then the handshake response sent over it. */
export async function helloAfterTls(ctx: SessionContext): Promise<HandshakeResponse> {
  await upgradeClient(ctx);
  return parseHello(ctx, await ctx.client.read(ctx.cfg.handshakeTimeoutMs, 'handshake response'));
}

function parseHello(ctx: SessionContext, packet: Packet): HandshakeResponse {
  const refusal = belowProtocol41(ctx, packet.payload);
  if (refusal) throw refusal;
  let hello: HandshakeResponse;
  try {
    hello = parseHandshakeResponse(packet.payload);
  } catch (err) {
    if (err instanceof RefusedClientCharsetError) throw clientCharsetRefused(err.charset, err);
    if (err instanceof InvalidDatabaseNameError) throw invalidCharacterString(err.charset, err.bytes, err);
    // A name the proxy cannot read says why; a malformed packet gets the server's own words (the log has the detail).
    if (err instanceof UnreadableNameError) throw badHandshake(err.message, err);
    throw malformedHandshake(err);
  }
  // A client without CLIENT_PLUGIN_AUTH answered with mysql_native_password, as MariaDB
  // takes it; it is refused (authModeUnsupported) only where the proxy would have to
  // switch it to another plugin or scramble, which it cannot read.
  return hello;
}

/**
 * A client below protocol 4.1 (HandshakeResponse320), refused as MariaDB 10.11 refuses
 * it: 1251 when its answer is an old-password scramble (no CLIENT_SECURE_CONNECTION),
 * else 1043; its ERR goes without SQLSTATE, which such a client does not read.
 */
function belowProtocol41(ctx: SessionContext, payload: Buffer): ClientError | null {
  if (payload.length < 2) return null;
  const capabilities = payload.readUInt16LE(0);
  if (capabilities & CLIENT_PROTOCOL_41) return null;
  ctx.preProtocol41 = true;
  return capabilities & CLIENT_SECURE_CONNECTION ? badHandshake() : authModeUnsupported();
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
