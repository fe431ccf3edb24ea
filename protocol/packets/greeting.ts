// Server -> Client: the HandshakeV10 that opens every connection.
// https://mariadb.com/kb/en/connection/#initial-handshake-packet
import { CLIENT_MYSQL, CLIENT_PLUGIN_AUTH, CLIENT_SECURE_CONNECTION, PROTOCOL_VERSION } from '../constants.js';
import { PacketReader } from '../packet-reader.js';
import { PacketWriter } from '../packet-writer.js';
import { ProtocolError } from '../protocol-error.js';

export interface Greeting {
  protocolVersion: number;
  serverVersion: string;
  connectionId: number;
  /** Full auth-plugin-data (20 bytes for mysql_native_password), without the trailing NUL. */
  scramble: Buffer;
  /** Lower 32 capability bits, unsigned. */
  capabilities: number;
  /** MariaDB extended capabilities; 0 when CLIENT_MYSQL is set. */
  mariadbCapabilities: number;
  charset: number;
  statusFlags: number;
  authPluginName: string;
}

const LABEL = 'HandshakeV10';
const SCRAMBLE_PART1_LENGTH = 8;
/** Part 2 is at least 13 bytes: 12 of scramble and a NUL in every server we know. */
const MIN_SCRAMBLE_PART2_LENGTH = 13;

/**
 * Reads the full 4.1+ greeting. The optional tail that pre-4.1 servers could omit is
 * required here: every server we proxy (MariaDB 10.x+, MySQL 5.5+) sends it, and a
 * greeting that stops early is then a truncation we can report.
 */
export function parseGreeting(payload: Buffer): Greeting {
  const r = new PacketReader(payload, 0, LABEL);
  const protocolVersion = r.u8('protocol version');
  if (protocolVersion !== PROTOCOL_VERSION) {
    throw r.error(`unsupported protocol version ${protocolVersion}`);
  }
  const serverVersion = r.nulString('server version');
  const connectionId = r.u32('connection id');
  const part1 = r.bytes(SCRAMBLE_PART1_LENGTH, 'auth-plugin-data-part-1');
  r.skip(1, 'filler');
  const capsLower = r.u16('capability flags (lower)');
  const charset = r.u8('character set');
  const statusFlags = r.u16('status flags');
  const capabilities = (capsLower | (r.u16('capability flags (upper)') << 16)) >>> 0;
  const authDataLength = r.u8('auth-plugin-data length');
  r.skip(6, 'filler');
  const extended = r.u32('MariaDB extended capabilities');
  const mariadbCapabilities = capabilities & CLIENT_MYSQL ? 0 : extended;

  let scramble = Buffer.from(part1);
  if (capabilities & CLIENT_SECURE_CONNECTION) {
    const part2Length = Math.max(MIN_SCRAMBLE_PART2_LENGTH, authDataLength - SCRAMBLE_PART1_LENGTH);
    const part2 = r.bytes(part2Length, 'auth-plugin-data-part-2');
    // Servers NUL-terminate the scramble inside part 2; the NUL is not scramble data.
    const end = part2[part2.length - 1] === 0 ? part2.length - 1 : part2.length;
    scramble = Buffer.concat([part1, part2.subarray(0, end)]);
  }
  const authPluginName = capabilities & CLIENT_PLUGIN_AUTH ? r.nulString('auth plugin name') : '';

  return {
    protocolVersion,
    serverVersion,
    connectionId,
    scramble,
    capabilities,
    mariadbCapabilities,
    charset,
    statusFlags,
    authPluginName,
  };
}

/**
 * Builds a greeting payload. The scramble goes out NUL-terminated, as MariaDB sends it,
 * so clients that read part 2 as a C string and clients that trust the length agree.
 */
export function writeGreeting(g: Greeting): Buffer {
  const caps = g.capabilities >>> 0;
  if (g.scramble.length < SCRAMBLE_PART1_LENGTH) {
    throw new ProtocolError(`${LABEL}: scramble of ${g.scramble.length} bytes is shorter than 8`);
  }
  const secure = (caps & CLIENT_SECURE_CONNECTION) !== 0;
  if (!secure && g.scramble.length !== SCRAMBLE_PART1_LENGTH) {
    throw new ProtocolError(`${LABEL}: a scramble longer than 8 bytes needs CLIENT_SECURE_CONNECTION`);
  }
  const part2 = g.scramble.subarray(SCRAMBLE_PART1_LENGTH);
  const part2Length = Math.max(MIN_SCRAMBLE_PART2_LENGTH, part2.length + 1);
  const authDataLength = caps & CLIENT_PLUGIN_AUTH ? SCRAMBLE_PART1_LENGTH + part2Length : 0;
  if (authDataLength > 0xff) {
    throw new ProtocolError(`${LABEL}: scramble of ${g.scramble.length} bytes is too long`);
  }

  const w = new PacketWriter(64 + g.serverVersion.length + g.authPluginName.length);
  w.u8(g.protocolVersion)
    .nulString(g.serverVersion)
    .u32(g.connectionId)
    .bytes(g.scramble.subarray(0, SCRAMBLE_PART1_LENGTH))
    .u8(0)
    .u16(caps & 0xffff)
    .u8(g.charset)
    .u16(g.statusFlags)
    .u16(caps >>> 16)
    .u8(authDataLength)
    .zeros(6)
    .u32(caps & CLIENT_MYSQL ? 0 : g.mariadbCapabilities >>> 0);
  if (secure) w.bytes(part2).zeros(part2Length - part2.length);
  if (caps & CLIENT_PLUGIN_AUTH) w.nulString(g.authPluginName);
  return w.payload();
}

/**
 * One greeting written once for many connections, which differ only in their connection
 * id and scramble: each copy gets its own, in place. Writing a greeting field by field
 * was about 3% of a pooled connection's JavaScript time.
 */
export class GreetingTemplate {
  private readonly bytes: Buffer;
  private readonly idAt: number;
  private readonly part2At: number;

  /** `g` as writeGreeting takes it; its connection id and scramble only give the layout (CLIENT_SECURE_CONNECTION and a 20-byte scramble expected). */
  constructor(readonly g: Greeting) {
    this.bytes = writeGreeting(g);
    this.idAt = 1 + Buffer.byteLength(g.serverVersion, 'utf8') + 1;
    // Part 1, a filler, capabilities (lower), charset, status, capabilities (upper), auth data length, 6 zeros, extended capabilities.
    this.part2At = this.idAt + 4 + SCRAMBLE_PART1_LENGTH + 1 + 2 + 1 + 2 + 2 + 1 + 6 + 4;
    if ((g.capabilities & CLIENT_SECURE_CONNECTION) === 0 || g.scramble.length !== 20) {
      throw new ProtocolError(`${LABEL}: a template needs CLIENT_SECURE_CONNECTION and a 20-byte scramble`);
    }
  }

  /** The greeting payload for one connection (`scramble`: 20 bytes, as the template's). */
  write(connectionId: number, scramble: Buffer): Buffer {
    if (scramble.length !== 20) throw new ProtocolError(`${LABEL}: template scramble of ${scramble.length} bytes, expected 20`);
    const out = Buffer.allocUnsafe(this.bytes.length);
    this.bytes.copy(out);
    out.writeUInt32LE(connectionId >>> 0, this.idAt);
    scramble.copy(out, this.idAt + 4, 0, SCRAMBLE_PART1_LENGTH);
    scramble.copy(out, this.part2At, SCRAMBLE_PART1_LENGTH);
    return out;
  }
}
