// Server -> Client during authentication: switch to another auth plugin (0xfe).
// https://mariadb.com/kb/en/connection/#authentication-switch-request
import { AUTH_SWITCH_HEADER } from '../constants.js';
import { PacketReader } from '../packet-reader.js';
import { PacketWriter } from '../packet-writer.js';

export interface AuthSwitchRequest {
  pluginName: string;
  /**
   * Everything after the plugin name's NUL, verbatim. MariaDB appends a NUL to a
   * native-password scramble; keeping it lets a proxy relay the packet unchanged.
   */
  pluginData: Buffer;
}

const LABEL = 'AuthSwitchRequest';

/** Only meaningful during authentication: elsewhere 0xfe starts an EOF packet. */
export function isAuthSwitchRequest(payload: Buffer): boolean {
  return payload.length > 0 && payload[0] === AUTH_SWITCH_HEADER;
}

/**
 * A bare 0xfe is the pre-4.1 "switch to mysql_old_password" request; that plugin is
 * insecure and gone from current servers, so it is reported rather than guessed at.
 */
export function parseAuthSwitchRequest(payload: Buffer): AuthSwitchRequest {
  const r = new PacketReader(payload, 0, LABEL);
  const header = r.u8('header');
  if (header !== AUTH_SWITCH_HEADER) throw r.error(`unexpected header 0x${header.toString(16)}`);
  if (r.remaining === 0) throw r.error('old-password switch request (bare 0xfe) is not supported');
  const pluginName = r.nulString('plugin name');
  return { pluginName, pluginData: Buffer.from(r.rest()) };
}

export function writeAuthSwitchRequest(r: AuthSwitchRequest): Buffer {
  return new PacketWriter(32 + r.pluginData.length)
    .u8(AUTH_SWITCH_HEADER)
    .nulString(r.pluginName)
    .bytes(r.pluginData)
    .payload();
}
