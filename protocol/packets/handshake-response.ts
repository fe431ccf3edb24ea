// Client -> Server: HandshakeResponse41, the client's answer to the greeting.
// https://mariadb.com/kb/en/connection/#client-handshake-response
import {
  CLIENT_CONNECT_ATTRS,
  CLIENT_CONNECT_WITH_DB,
  CLIENT_MYSQL,
  CLIENT_PLUGIN_AUTH,
  CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA,
  CLIENT_PROTOCOL_41,
  CLIENT_SECURE_CONNECTION,
} from '../constants.js';
import { PacketReader } from '../packet-reader.js';
import { PacketWriter } from '../packet-writer.js';
import { ProtocolError } from '../protocol-error.js';
import { InvalidDatabaseNameError, RefusedClientCharsetError, hasUnreadableUtf8, handshakeNameBytes, readHandshakeName, refusedClientCharset } from '../handshake-names.js';

export interface HandshakeResponse {
  capabilities: number;
  maxPacketSize: number;
  charset: number;
  /** From the filler's last 4 bytes; 0 when CLIENT_MYSQL is set (a MySQL client). */
  mariadbCapabilities: number;
  user: string;
  authResponse: Buffer;
  /** null when CLIENT_CONNECT_WITH_DB is clear. */
  database: string | null;
  /** null when CLIENT_PLUGIN_AUTH is clear. */
  authPluginName: string | null;
  /** null when CLIENT_CONNECT_ATTRS is clear; pairs in wire order (keys may repeat). */
  connectAttributes: Array<[string, string]> | null;
}

const LABEL = 'HandshakeResponse41';
/** Bytes shared with the SSLRequest: caps, max packet size, charset, 23-byte filler. */
export const HANDSHAKE_RESPONSE_FIXED_LENGTH = 32;

/** The 32-byte fixed prefix, shared with SSLRequest. */
export interface HandshakeResponsePrefix {
  capabilities: number;
  maxPacketSize: number;
  charset: number;
  mariadbCapabilities: number;
}

export function readHandshakeResponsePrefix(r: PacketReader): HandshakeResponsePrefix {
  const capabilities = r.u32('capability flags');
  // A 3.x-era client sends a 2-byte caps field and a different layout entirely.
  if (!(capabilities & CLIENT_PROTOCOL_41)) {
    throw r.error('client does not speak protocol 4.1 (HandshakeResponse320 is not supported)');
  }
  const maxPacketSize = r.u32('max packet size');
  const charset = r.u8('character set');
  r.skip(19, 'filler');
  const extended = r.u32('MariaDB extended capabilities');
  return {
    capabilities,
    maxPacketSize,
    charset,
    mariadbCapabilities: capabilities & CLIENT_MYSQL ? 0 : extended,
  };
}

export function writeHandshakeResponsePrefix(w: PacketWriter, p: HandshakeResponsePrefix): void {
  const caps = p.capabilities >>> 0;
  w.u32(caps)
    .u32(p.maxPacketSize >>> 0)
    .u8(p.charset)
    .zeros(19)
    .u32(caps & CLIENT_MYSQL ? 0 : p.mariadbCapabilities >>> 0);
}

/**
 * Reads HandshakeResponse41. Trailing bytes after the last field (e.g. MySQL 8's zstd
 * level) are ignored. Like MariaDB's own server, a client that sets CLIENT_PLUGIN_AUTH
 * but ends the packet before the plugin name is accepted, with the flag cleared so the
 * result describes what was actually sent.
 */
export function parseHandshakeResponse(payload: Buffer): HandshakeResponse {
  const r = new PacketReader(payload, 0, LABEL);
  const prefix = readHandshakeResponsePrefix(r);
  // The server judges the character set once it has the 32-byte prefix, before the names.
  const refused = refusedClientCharset(prefix.charset);
  if (refused) throw new RefusedClientCharsetError(refused);
  let caps = prefix.capabilities;
  // Names are in the handshake's character set, read as the server reads them (handshake-names.ts).
  const userStart = r.offset;
  const user = readHandshakeName(payload, userStart, r.nulField('user'), prefix.charset, 'user name', true);

  // Copied: the session keeps it, and the payload may be a view of a larger read.
  let authResponse: Buffer;
  if (caps & CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA) {
    authResponse = r.copy(r.lenencInt('auth response'), 'auth response');
  } else if (caps & CLIENT_SECURE_CONNECTION) {
    authResponse = r.copy(r.u8('auth response length'), 'auth response');
  } else {
    authResponse = Buffer.from(r.nulBytes('auth response'));
  }

  let database: string | null = null;
  if (caps & CLIENT_CONNECT_WITH_DB) {
    const start = r.offset;
    const end = r.nulField('database');
    // The server refuses a database name its conversion cannot read (1300), where a user name gets '?'.
    if (hasUnreadableUtf8(payload, start, end, prefix.charset)) throw new InvalidDatabaseNameError(prefix.charset, Buffer.from(payload.subarray(start, end)));
    database = readHandshakeName(payload, start, end, prefix.charset, 'database name');
  }

  let authPluginName: string | null = null;
  if (caps & CLIENT_PLUGIN_AUTH) {
    if (r.remaining > 0) authPluginName = r.nulString('auth plugin name');
    else caps = (caps & ~CLIENT_PLUGIN_AUTH) >>> 0;
  }

  const attributes = caps & CLIENT_CONNECT_ATTRS ? checkedAttributes(r.lenencBytes('connection attributes')) : null;
  return new ParsedHandshakeResponse(caps, prefix, user, authResponse, database, authPluginName, attributes);
}

/**
 * A HandshakeResponse as read off the wire. Its connection attributes are checked at
 * parse and decoded on first read (a client served from the pool never needs them),
 * and kept as sent for a response passed on unchanged (writeHandshakeResponseAs). A
 * class, not an object literal with an accessor: the literal made two closures per
 * login and cost about 1 µs, the class 0.04.
 */
class ParsedHandshakeResponse implements HandshakeResponse {
  readonly maxPacketSize: number;
  readonly charset: number;
  readonly mariadbCapabilities: number;
  /** The attribute block as the client sent it, until the attributes are replaced. */
  #block: Buffer | null;
  #pairs: Array<[string, string]> | null | undefined;

  constructor(
    public capabilities: number,
    prefix: HandshakeResponsePrefix,
    public user: string,
    public authResponse: Buffer,
    public database: string | null,
    public authPluginName: string | null,
    block: Buffer | null,
  ) {
    this.maxPacketSize = prefix.maxPacketSize;
    this.charset = prefix.charset;
    this.mariadbCapabilities = prefix.mariadbCapabilities;
    this.#block = block;
    this.#pairs = block ? undefined : null;
  }

  get connectAttributes(): Array<[string, string]> | null {
    if (this.#pairs === undefined) this.#pairs = readAttributes(this.#block!);
    return this.#pairs;
  }

  set connectAttributes(pairs: Array<[string, string]> | null) {
    this.#pairs = pairs;
    this.#block = null;
  }

  /** The attributes as sent, or null (none, or replaced since). */
  static blockOf(r: HandshakeResponse): Buffer | null {
    return r instanceof ParsedHandshakeResponse ? r.#block : null;
  }
}

/**
 * The connection-attribute block of a parsed response as its client sent it (framing
 * checked), or null: none sent, replaced since, or not a parsed response.
 */
export function connectAttributeBlock(r: HandshakeResponse): Buffer | null {
  return ParsedHandshakeResponse.blockOf(r);
}

/**
 * `hello` (a parsed response) as the proxy passes it on with `changes`: its connection
 * attributes go as the client sent them, never decoded and encoded again (a
 * passthrough login's attributes were 4% of its JavaScript time).
 */
export function writeHandshakeResponseAs(hello: HandshakeResponse, changes: Omit<Partial<HandshakeResponse>, 'connectAttributes'>): Buffer {
  const block = ParsedHandshakeResponse.blockOf(hello);
  const r: HandshakeResponse = {
    capabilities: changes.capabilities ?? hello.capabilities,
    maxPacketSize: changes.maxPacketSize ?? hello.maxPacketSize,
    charset: changes.charset ?? hello.charset,
    mariadbCapabilities: changes.mariadbCapabilities ?? hello.mariadbCapabilities,
    user: changes.user ?? hello.user,
    authResponse: changes.authResponse ?? hello.authResponse,
    database: changes.database !== undefined ? changes.database : hello.database,
    authPluginName: changes.authPluginName !== undefined ? changes.authPluginName : hello.authPluginName,
    connectAttributes: block ? null : hello.connectAttributes,
  };
  return writeHandshakeResponse(r, block ?? undefined);
}

/**
 * Checks the attribute block's framing now (a bad block fails the parse, as
 * before) but makes no strings: only a login to the compute reads the pairs
 * (a passthrough, or a pooled connection being opened), so a client served
 * from the pool never pays for them. The block is copied out of the payload.
 */
function checkedAttributes(block: Buffer): Buffer {
  const r = new PacketReader(block, 0, LABEL);
  try {
    while (r.remaining > 0) {
      r.skip(r.lenencInt('connection attribute name'), 'connection attribute name');
      r.skip(r.lenencInt('connection attribute value'), 'connection attribute value');
    }
  } catch (err) {
    // A bad block: decode it to fail with the error that names the attribute.
    readAttributes(block);
    throw err;
  }
  return Buffer.from(block);
}

function readAttributes(block: Buffer): Array<[string, string]> {
  const attrs = new PacketReader(block, 0, LABEL);
  const out: Array<[string, string]> = [];
  while (attrs.remaining > 0) {
    const key = attrs.lenencString('connection attribute name');
    out.push([key, attrs.lenencString(`value of connection attribute ${JSON.stringify(key)}`)]);
  }
  return out;
}

/**
 * Builds HandshakeResponse41. Optional fields follow the capability flags: a field is
 * written exactly when its flag is set (null values become empty), and ignored otherwise.
 */
export function writeHandshakeResponse(r: HandshakeResponse, attributeBlock?: Buffer): Buffer {
  const caps = r.capabilities >>> 0;
  if (!(caps & CLIENT_PROTOCOL_41)) throw new ProtocolError(`${LABEL}: CLIENT_PROTOCOL_41 must be set`);
  const w = new PacketWriter(128 + r.authResponse.length);
  writeHandshakeResponsePrefix(w, r);
  w.nulString(handshakeNameBytes(r.user, r.charset));

  if (caps & CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA) {
    w.lenencString(r.authResponse);
  } else if (caps & CLIENT_SECURE_CONNECTION) {
    if (r.authResponse.length > 0xff) {
      throw new ProtocolError(
        `${LABEL}: auth response of ${r.authResponse.length} bytes needs CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA`,
      );
    }
    w.u8(r.authResponse.length).bytes(r.authResponse);
  } else {
    w.nulString(r.authResponse);
  }

  if (caps & CLIENT_CONNECT_WITH_DB) w.nulString(handshakeNameBytes(r.database ?? '', r.charset));
  if (caps & CLIENT_PLUGIN_AUTH) w.nulString(r.authPluginName ?? '');
  if (caps & CLIENT_CONNECT_ATTRS) {
    if (attributeBlock) {
      w.lenencString(attributeBlock);
    } else {
      const attrs = new PacketWriter();
      for (const [key, value] of r.connectAttributes ?? []) attrs.lenencString(key).lenencString(value);
      w.lenencString(attrs.payload());
    }
  }
  return w.payload();
}
