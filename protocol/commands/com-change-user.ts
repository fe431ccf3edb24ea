// Client -> Server: COM_CHANGE_USER (0x11), log in again as another user on the same
// connection, resetting the session.
// https://mariadb.com/kb/en/com_change_user/
//
// The auth response is prefixed by one length byte under CLIENT_SECURE_CONNECTION, not a
// length-encoded integer as in HandshakeResponse41: MariaDB's server reads exactly one
// byte even when CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA was negotiated, and libmariadb,
// libmysqlclient and mysql2 all write one. `capabilities` are the ones the connection
// negotiated at login; they decide which optional fields the packet carries.
import {
  CLIENT_CONNECT_ATTRS,
  CLIENT_PLUGIN_AUTH,
  CLIENT_PROTOCOL_41,
  CLIENT_SECURE_CONNECTION,
  COM_CHANGE_USER,
} from '../constants.js';
import { PacketReader } from '../packet-reader.js';
import { PacketWriter } from '../packet-writer.js';
import { ProtocolError } from '../protocol-error.js';

export interface ComChangeUser {
  user: string;
  /** The new user's answer to the scramble the client holds (secret: never log it). */
  authResponse: Buffer;
  /** The default schema; empty for none. */
  database: string;
  charset: number;
  /** null when CLIENT_PLUGIN_AUTH is clear. */
  authPluginName: string | null;
  /** null when CLIENT_CONNECT_ATTRS is clear; pairs in wire order. */
  connectAttributes: Array<[string, string]> | null;
}

const LABEL = 'COM_CHANGE_USER';
const MAX_SHORT_AUTH_RESPONSE = 0xff;

/**
 * Strict about fields the capabilities promise: a packet that ends before its charset,
 * plugin name or attributes is reported as truncated. (MariaDB's server tolerates a
 * packet ending after the schema, a pre-4.1 habit; no client we relay sends one.)
 */
export function parseComChangeUser(payload: Buffer, capabilities: number): ComChangeUser {
  const r = new PacketReader(payload, 0, LABEL);
  const command = r.u8('command');
  if (command !== COM_CHANGE_USER) throw r.error(`unexpected command 0x${command.toString(16)}`);
  const user = r.nulString('user');
  const authResponse =
    capabilities & CLIENT_SECURE_CONNECTION
      ? r.bytes(r.u8('auth response length'), 'auth response')
      : r.nulBytes('auth response');
  const database = r.nulString('database');
  const charset = capabilities & CLIENT_PROTOCOL_41 ? r.u16('character set') : 0;
  const authPluginName = capabilities & CLIENT_PLUGIN_AUTH ? r.nulString('auth plugin name') : null;
  let connectAttributes: Array<[string, string]> | null = null;
  if (capabilities & CLIENT_CONNECT_ATTRS) {
    const attrs = new PacketReader(r.lenencBytes('connection attributes'), 0, LABEL);
    connectAttributes = [];
    while (attrs.remaining > 0) {
      const key = attrs.lenencString('connection attribute name');
      connectAttributes.push([key, attrs.lenencString(`value of connection attribute ${JSON.stringify(key)}`)]);
    }
  }
  if (r.remaining > 0) throw r.error(`${r.remaining} unexpected bytes after the last field`);
  return { user, authResponse: Buffer.from(authResponse), database, charset, authPluginName, connectAttributes };
}

/** The payload, command byte included; fields follow `capabilities` as in parseComChangeUser. */
export function writeComChangeUser(p: ComChangeUser, capabilities: number): Buffer {
  const w = new PacketWriter(64 + p.authResponse.length).u8(COM_CHANGE_USER).nulString(p.user);
  if (capabilities & CLIENT_SECURE_CONNECTION) {
    if (p.authResponse.length > MAX_SHORT_AUTH_RESPONSE) {
      throw new ProtocolError(`${LABEL}: auth response of ${p.authResponse.length} bytes does not fit its length byte`);
    }
    w.u8(p.authResponse.length).bytes(p.authResponse);
  } else {
    w.nulString(p.authResponse);
  }
  w.nulString(p.database);
  if (capabilities & CLIENT_PROTOCOL_41) w.u16(p.charset);
  if (capabilities & CLIENT_PLUGIN_AUTH) w.nulString(p.authPluginName ?? '');
  if (capabilities & CLIENT_CONNECT_ATTRS) {
    const attrs = new PacketWriter();
    for (const [key, value] of p.connectAttributes ?? []) attrs.lenencString(key).lenencString(value);
    w.lenencString(attrs.payload());
  }
  return w.payload();
}
