// Server -> Client: ERR_Packet (0xff).
// https://mariadb.com/kb/en/err_packet/
import { CLIENT_PROTOCOL_41, ERR_HEADER } from '../constants.js';
import { PacketReader } from '../packet-reader.js';
import { PacketWriter } from '../packet-writer.js';
import { readMessage } from '../handshake-names.js';
import { ProtocolError } from '../protocol-error.js';

export interface ErrPacket {
  code: number;
  /** Five characters, e.g. "28000". */
  sqlState: string;
  message: string;
}

const LABEL = 'ERR_Packet';
const SQL_STATE_MARKER = 0x23; // '#'
const SQL_STATE_LENGTH = 5;
/** What clients assume when a server sends no SQLSTATE. */
export const DEFAULT_SQL_STATE = 'HY000';
/** MariaDB sends progress reports as ERR packets with this code (MARIADB_CLIENT_PROGRESS). */
export const PROGRESS_REPORT_ERROR_CODE = 0xffff;

export function isErrPacket(payload: Buffer): boolean {
  return payload.length > 0 && payload[0] === ERR_HEADER;
}

/**
 * The SQLSTATE marker is optional on the wire even with CLIENT_PROTOCOL_41: servers omit
 * it for errors raised before the handshake completes (e.g. "Too many connections").
 */
/** `collation`: the client's, when the message is in its character set (a login's refusal); else UTF-8. */
export function parseErrPacket(payload: Buffer, capabilities: number, collation?: number): ErrPacket {
  const r = new PacketReader(payload, 0, LABEL);
  const header = r.u8('header');
  if (header !== ERR_HEADER) throw r.error(`unexpected header 0x${header.toString(16)}`);
  const code = r.u16('error code');
  let sqlState = DEFAULT_SQL_STATE;
  if (capabilities & CLIENT_PROTOCOL_41 && r.remaining > 0 && payload[r.offset] === SQL_STATE_MARKER) {
    r.skip(1, 'SQLSTATE marker');
    sqlState = r.bytes(SQL_STATE_LENGTH, 'SQLSTATE').toString('latin1');
  }
  if (collation === undefined) return { code, sqlState, message: r.restString() };
  return { code, sqlState, message: readMessage(payload, r.offset, payload.length, collation) };
}

/** `message`, when given, is p.message already in the client's character set (see messageBytes). */
export function writeErrPacket(p: ErrPacket, capabilities: number, message?: Buffer): Buffer {
  const w = new PacketWriter(16 + (message?.length ?? Buffer.byteLength(p.message))).u8(ERR_HEADER).u16(p.code);
  if (capabilities & CLIENT_PROTOCOL_41) {
    if (!/^[0-9A-Z]{5}$/.test(p.sqlState)) {
      throw new ProtocolError(`${LABEL}: SQLSTATE ${JSON.stringify(p.sqlState)} is not 5 characters of [0-9A-Z]`);
    }
    w.u8(SQL_STATE_MARKER).string(p.sqlState);
  }
  return (message ? w.bytes(message) : w.string(p.message)).payload();
}
