// The admin console's side of the handshake: its own greeting, the client's
// HandshakeResponse41, and mysql_native_password checked against the console's own
// account (--admin-mysql-user / --admin-mysql-password), never a compute's. A wrong
// user or password gets 1045 worded as MariaDB words it; the user name is judged
// only after the password, so an answer never says which of the two was wrong.
// No TLS: the console listens on loopback unless told otherwise.
import {
  CLIENT_CONNECT_ATTRS,
  CLIENT_CONNECT_WITH_DB,
  CLIENT_DEPRECATE_EOF,
  CLIENT_FOUND_ROWS,
  CLIENT_IGNORE_SPACE,
  CLIENT_INTERACTIVE,
  CLIENT_LONG_FLAG,
  CLIENT_LONG_PASSWORD,
  CLIENT_MULTI_RESULTS,
  CLIENT_PLUGIN_AUTH,
  CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA,
  CLIENT_PROTOCOL_41,
  CLIENT_SECURE_CONNECTION,
  CLIENT_TRANSACTIONS,
  NATIVE_PASSWORD_PLUGIN,
  PROTOCOL_VERSION,
  SERVER_STATUS_AUTOCOMMIT,
  UTF8MB4_GENERAL_CI,
  generateScramble,
  isSslRequest,
  parseHandshakeResponse,
  writeErrPacket,
  writeGreeting,
  writeOkPacket,
  type HandshakeResponse,
} from '../../protocol/index.js';
import type { PacketChannel } from '../../socket/packet-channel.js';
import { verifyAuthSwitchResponse, verifyClient } from '../verified-auth.js';

/**
 * What the console speaks: protocol 4.1 with pluggable auth, no TLS, no compression,
 * one statement per query. CLIENT_LONG_PASSWORD is bit 0 (CLIENT_MYSQL): set, the
 * greeting carries no MariaDB extended capabilities, so clients use none.
 */
export const CONSOLE_CAPABILITIES =
  (CLIENT_LONG_PASSWORD |
    CLIENT_FOUND_ROWS |
    CLIENT_LONG_FLAG |
    CLIENT_CONNECT_WITH_DB |
    CLIENT_IGNORE_SPACE |
    CLIENT_PROTOCOL_41 |
    CLIENT_INTERACTIVE |
    CLIENT_TRANSACTIONS |
    CLIENT_SECURE_CONNECTION |
    CLIENT_MULTI_RESULTS |
    CLIENT_PLUGIN_AUTH |
    CLIENT_CONNECT_ATTRS |
    CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA |
    CLIENT_DEPRECATE_EOF) >>>
  0;

export const CONSOLE_SERVER_VERSION = '5.5.5-10.11.0-wake-proxy-admin-console';

/** The console's account: its user name and the double SHA-1 of its password. */
export interface ConsoleAccount {
  user: string;
  verifier: Buffer;
}

export type LoginOutcome =
  | { ok: true; user: string; capabilities: number }
  | { ok: false; user: string; reason: 'access_denied' | 'tls_unavailable' };

/** Greeting to OK or ERR; throws only when the channel does (the client left, sent garbage, or stayed silent). */
export async function logIn(
  channel: PacketChannel,
  connectionId: number,
  account: ConsoleAccount,
  clientHost: string,
  timeoutMs: number,
): Promise<LoginOutcome> {
  const scramble = generateScramble();
  channel.write(
    writeGreeting({
      protocolVersion: PROTOCOL_VERSION,
      serverVersion: CONSOLE_SERVER_VERSION,
      connectionId,
      scramble,
      capabilities: CONSOLE_CAPABILITIES,
      mariadbCapabilities: 0,
      charset: UTF8MB4_GENERAL_CI,
      statusFlags: SERVER_STATUS_AUTOCOMMIT,
      authPluginName: NATIVE_PASSWORD_PLUGIN,
    }),
    0,
  );
  const first = await channel.read(timeoutMs, 'handshake response');
  if (isSslRequest(first.payload)) {
    refuse(channel, 1043, '08S01', 'TLS is not available on the wake-proxy admin console: connect without SSL');
    return { ok: false, user: '', reason: 'tls_unavailable' };
  }
  const hello: HandshakeResponse = parseHandshakeResponse(first.payload);
  let verdict = verifyClient(hello, scramble, account.verifier);
  let answer = hello.authResponse;
  if (!verdict.ok && verdict.switchRequired) {
    channel.write(verdict.authSwitchRequest, channel.nextSequenceId);
    answer = (await channel.read(timeoutMs, 'auth switch response')).payload;
    verdict = verifyAuthSwitchResponse(answer, scramble, account.verifier);
  }
  if (!verdict.ok || hello.user !== account.user) {
    const using = answer.length > 0 ? 'YES' : 'NO';
    refuse(channel, 1045, '28000', `Access denied for user '${hello.user}'@'${clientHost}' (using password: ${using})`);
    return { ok: false, user: hello.user, reason: 'access_denied' };
  }
  const capabilities = (hello.capabilities & CONSOLE_CAPABILITIES) >>> 0;
  channel.write(
    writeOkPacket({ affectedRows: 0, lastInsertId: 0, statusFlags: SERVER_STATUS_AUTOCOMMIT, warnings: 0, info: '' }, capabilities),
    channel.nextSequenceId,
  );
  return { ok: true, user: hello.user, capabilities };
}

function refuse(channel: PacketChannel, code: number, sqlState: string, message: string): void {
  channel.write(writeErrPacket({ code, sqlState, message }, CLIENT_PROTOCOL_41), channel.nextSequenceId);
}
