// Server -> Client: the session-state block of an OK packet (CLIENT_SESSION_TRACK with
// SERVER_SESSION_STATE_CHANGED in its status): what the statement changed in the
// session, as the server's trackers saw it. Transaction pooling reads it to learn which
// settings a client now has (replayed on whichever connection it borrows next) and
// whether anything else stays behind (pin). Clients that did not negotiate
// CLIENT_SESSION_TRACK must not see it: withoutSessionState() writes the OK they expect.
//
// Read in place: the OK is given as a range of the chunk it came in, and lengths are
// read where they lie. Names and values become strings only for the variables a
// flagged OK reports (a flagged OK is rare next to the statements that flag nothing).
// https://mariadb.com/kb/en/ok_packet/#session-change-type
import { EOF_HEADER, OK_HEADER, SERVER_SESSION_STATE_CHANGED } from './constants.js';
import { ProtocolError } from './protocol-error.js';

export const SESSION_TRACK_SYSTEM_VARIABLES = 0;
export const SESSION_TRACK_SCHEMA = 1;
export const SESSION_TRACK_STATE_CHANGE = 2;
export const SESSION_TRACK_GTIDS = 3;
export const SESSION_TRACK_TRANSACTION_CHARACTERISTICS = 4;
export const SESSION_TRACK_TRANSACTION_STATE = 5;

/** Told each change of one OK's session-state block, in the order the server wrote them. */
export interface SessionStateSink {
  variable(name: string, value: string): void;
  schema(name: string): void;
  /** session_track_state_change: something in the session changed (a user variable, a temporary table, ...). */
  stateChanged(): void;
  /** Another kind of change (GTIDs, transaction characteristics or state). */
  other(type: number): void;
}

/** An OK's fields up to its session-state block, as positions in the buffer. */
export interface OkLayout {
  /** Where the status flags are. */
  statusAt: number;
  /** Where the info string's length starts, or `end` when the OK has no info. */
  infoAt: number;
  /** Where the session-state block's length starts, or -1 when there is none. */
  stateAt: number;
}

const LAYOUT: OkLayout = { statusAt: 0, infoAt: 0, stateAt: -1 };
/** lenenc()'s second answer: the size of the integer just read (no object per call). */
let lenencSize = 0;

/**
 * Where the parts of the OK in buf[start, end) are (header 0x00, or 0xfe ending a
 * result set), for a connection that negotiated CLIENT_PROTOCOL_41 and
 * CLIENT_SESSION_TRACK. The answer is a shared object, valid until the next call.
 */
export function okLayout(buf: Buffer, start: number, end: number): OkLayout {
  const header = buf[start];
  if (end - start < 7 || (header !== OK_HEADER && header !== EOF_HEADER)) throw new ProtocolError('okLayout: not an OK packet');
  let at = start + 1;
  lenenc(buf, at, end, 'okLayout: affected rows');
  at += lenencSize;
  lenenc(buf, at, end, 'okLayout: last insert id');
  at += lenencSize;
  if (at + 4 > end) throw new ProtocolError('okLayout: truncated reading status and warnings');
  LAYOUT.statusAt = at;
  at += 4;
  LAYOUT.infoAt = at;
  LAYOUT.stateAt = -1;
  if (at < end) {
    const infoLength = lenenc(buf, at, end, 'okLayout: info');
    at += lenencSize + infoLength;
    if (at > end) throw new ProtocolError('okLayout: truncated reading info');
    if (at < end && buf.readUInt16LE(LAYOUT.statusAt) & SERVER_SESSION_STATE_CHANGED) LAYOUT.stateAt = at;
  }
  return LAYOUT;
}

/** Reads the session-state block at `stateAt` (from okLayout) up to `end`, telling `sink` each change. */
export function readSessionState(buf: Buffer, stateAt: number, end: number, sink: SessionStateSink): void {
  const total = lenenc(buf, stateAt, end, 'session state: length');
  let at = stateAt + lenencSize;
  const blockEnd = at + total;
  if (blockEnd > end) throw new ProtocolError('session state: truncated block');
  while (at < blockEnd) {
    const type = buf[at++]!;
    const length = lenenc(buf, at, blockEnd, 'session state: entry length');
    at += lenencSize;
    const entryEnd = at + length;
    if (entryEnd > blockEnd) throw new ProtocolError(`session state: truncated entry of type ${type}`);
    if (type === SESSION_TRACK_SYSTEM_VARIABLES) {
      const name = lenencString(buf, at, entryEnd, 'session state: variable name');
      at += lenencSize + name.length;
      const value = lenencString(buf, at, entryEnd, 'session state: variable value');
      sink.variable(name, value);
    } else if (type === SESSION_TRACK_SCHEMA) {
      sink.schema(lenencString(buf, at, entryEnd, 'session state: schema'));
    } else if (type === SESSION_TRACK_STATE_CHANGE) {
      sink.stateChanged();
    } else {
      sink.other(type);
    }
    at = entryEnd;
  }
}

/**
 * The OK in buf[start, end) as a client without CLIENT_SESSION_TRACK gets it from the
 * server: no session-state block, SERVER_SESSION_STATE_CHANGED cleared, the info
 * string only when it is not empty. A new payload (flagged OKs only).
 */
export function withoutSessionState(buf: Buffer, start: number, end: number): Buffer {
  const { statusAt, infoAt } = okLayout(buf, start, end);
  let keepEnd = infoAt;
  if (infoAt < end) {
    const infoLength = lenenc(buf, infoAt, end, 'withoutSessionState: info');
    if (infoLength > 0) keepEnd = infoAt + lenencSize + infoLength;
  }
  const out = Buffer.allocUnsafe(keepEnd - start);
  buf.copy(out, 0, start, keepEnd);
  const status = out.readUInt16LE(statusAt - start);
  out.writeUInt16LE(status & ~SERVER_SESSION_STATE_CHANGED, statusAt - start);
  return out;
}

/** A length-encoded integer at buf[at] that must end by `end`; its size goes to lenencSize. */
function lenenc(buf: Buffer, at: number, end: number, what: string): number {
  if (at >= end) throw new ProtocolError(`${what}: truncated`);
  const b = buf[at]!;
  const size = b < 0xfb ? 1 : b === 0xfc ? 3 : b === 0xfd ? 4 : b === 0xfe ? 9 : 0;
  if (size === 0) throw new ProtocolError(`${what}: invalid length-encoded integer 0x${b.toString(16)}`);
  if (at + size > end) throw new ProtocolError(`${what}: truncated`);
  lenencSize = size;
  if (size === 1) return b;
  return size === 9 ? Number(buf.readBigUInt64LE(at + 1)) : buf.readUIntLE(at + 1, size - 1);
}

/**
 * A length-encoded string read as latin1, one character per byte, so its length is its
 * byte length and writing it back as latin1 gives the server's bytes (a schema name in
 * UTF-8 included). lenencSize is left at its length prefix's size.
 */
function lenencString(buf: Buffer, at: number, end: number, what: string): string {
  const length = lenenc(buf, at, end, what);
  const from = at + lenencSize;
  if (from + length > end) throw new ProtocolError(`${what}: truncated`);
  return buf.toString('latin1', from, from + length);
}
