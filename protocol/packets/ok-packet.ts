// Server -> Client: OK_Packet (0x00; 0xfe when it ends a result set under CLIENT_DEPRECATE_EOF).
// https://mariadb.com/kb/en/ok_packet/
import {
  CLIENT_PROTOCOL_41,
  CLIENT_SESSION_TRACK,
  CLIENT_TRANSACTIONS,
  EOF_HEADER,
  OK_HEADER,
  SERVER_SESSION_STATE_CHANGED,
} from '../constants.js';
import { PacketReader } from '../packet-reader.js';
import { PacketWriter } from '../packet-writer.js';

export interface OkPacket {
  affectedRows: number;
  lastInsertId: number;
  statusFlags: number;
  warnings: number;
  /** Human-readable info such as "Rows matched: 1  Changed: 1  Warnings: 0"; often empty. */
  info: string;
  /**
   * The session-state-change block (CLIENT_SESSION_TRACK with SERVER_SESSION_STATE_CHANGED)
   * verbatim as sent after the info, its length prefix included, undecoded. An addition to
   * the base API; absent when the server sent none.
   */
  sessionState?: Buffer;
}

const LABEL = 'OK_Packet';
/** Header, two 1-byte lenencs, status and warnings: the shortest 4.1 OK. */
const MIN_OK_LENGTH = 7;

/**
 * 0x00 alone is not enough: a text row whose first column is an empty string also
 * starts with 0x00, but an OK is always at least 7 bytes under protocol 4.1.
 */
export function isOkPacket(payload: Buffer): boolean {
  return payload.length >= MIN_OK_LENGTH && payload[0] === OK_HEADER;
}

/**
 * The info text is length-encoded whenever present: MariaDB and MySQL both write it that
 * way with or without CLIENT_SESSION_TRACK. Session-state data is kept raw and never
 * decoded here, so a tracker format we do not know cannot break parsing.
 */
export function parseOkPacket(payload: Buffer, capabilities: number): OkPacket {
  const r = new PacketReader(payload, 0, LABEL);
  const header = r.u8('header');
  if (header !== OK_HEADER && header !== EOF_HEADER) throw r.error(`unexpected header 0x${header.toString(16)}`);
  const affectedRows = r.lenencInt('affected rows');
  const lastInsertId = r.lenencInt('last insert id');
  let statusFlags = 0;
  let warnings = 0;
  if (capabilities & CLIENT_PROTOCOL_41) {
    statusFlags = r.u16('status flags');
    warnings = r.u16('warning count');
  } else if (capabilities & CLIENT_TRANSACTIONS) {
    statusFlags = r.u16('status flags');
  }
  const ok: OkPacket = { affectedRows, lastInsertId, statusFlags, warnings, info: '' };
  if (r.remaining > 0) ok.info = r.lenencString('info');
  if (capabilities & CLIENT_SESSION_TRACK && statusFlags & SERVER_SESSION_STATE_CHANGED && r.remaining > 0) {
    ok.sessionState = Buffer.from(r.rest());
  }
  return ok;
}

export function writeOkPacket(p: OkPacket, capabilities: number): Buffer {
  const w = new PacketWriter(16 + Buffer.byteLength(p.info) + (p.sessionState?.length ?? 0))
    .u8(OK_HEADER)
    .lenencInt(p.affectedRows)
    .lenencInt(p.lastInsertId);
  if (capabilities & CLIENT_PROTOCOL_41) w.u16(p.statusFlags).u16(p.warnings);
  else if (capabilities & CLIENT_TRANSACTIONS) w.u16(p.statusFlags);
  const stateChanged =
    (capabilities & CLIENT_SESSION_TRACK) !== 0 && (p.statusFlags & SERVER_SESSION_STATE_CHANGED) !== 0;
  if (p.info !== '' || stateChanged) w.lenencString(p.info);
  if (stateChanged) {
    if (p.sessionState) w.bytes(p.sessionState);
    else w.lenencInt(0);
  }
  return w.payload();
}
