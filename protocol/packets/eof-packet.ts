// Server -> Client: EOF_Packet, ending column definitions and rows when the client did
// not negotiate CLIENT_DEPRECATE_EOF. Only the 4.1 layout is supported.
// https://mariadb.com/kb/en/eof_packet/
import { EOF_HEADER } from '../constants.js';
import { PacketReader } from '../packet-reader.js';
import { PacketWriter } from '../packet-writer.js';

export interface EofPacket {
  warnings: number;
  statusFlags: number;
}

const LABEL = 'EOF_Packet';

/**
 * The length test tells an EOF from a row: a row starts with 0xfe only when its first
 * value has an 8-byte length, so it is at least 9 bytes long. Under CLIENT_DEPRECATE_EOF
 * the OK that ends a result set also starts with 0xfe and is usually this short; parse
 * it with parseOkPacket.
 */
export function isEofPacket(payload: Buffer): boolean {
  return payload.length > 0 && payload.length < 9 && payload[0] === EOF_HEADER;
}

export function parseEofPacket(payload: Buffer): EofPacket {
  const r = new PacketReader(payload, 0, LABEL);
  const header = r.u8('header');
  if (header !== EOF_HEADER) throw r.error(`unexpected header 0x${header.toString(16)}`);
  const warnings = r.u16('warning count');
  const statusFlags = r.u16('status flags');
  return { warnings, statusFlags };
}

export function writeEofPacket(p: EofPacket): Buffer {
  return new PacketWriter(5).u8(EOF_HEADER).u16(p.warnings).u16(p.statusFlags).payload();
}
