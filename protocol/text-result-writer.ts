// Server -> Client: a whole text-protocol result set written by the proxy itself, for
// the few statements it answers without a compute (a bare SELECT CONNECTION_ID() in
// transaction pooling). Laid out as MariaDB 10.11 lays it out for the same capabilities
// (the unit test compares against its bytes): column count (with the metadata-follows
// byte under MARIADB_CLIENT_CACHE_METADATA), column definitions, an EOF unless
// CLIENT_DEPRECATE_EOF, the rows, and an EOF, or an OK with the 0xfe header.
// https://mariadb.com/kb/en/result-set-packets/
import { CLIENT_DEPRECATE_EOF, EOF_HEADER, MARIADB_CLIENT_CACHE_METADATA } from './constants.js';
import { PacketWriter } from './packet-writer.js';
import { ProtocolError } from './protocol-error.js';
import { writeColumnDefinition, type ColumnDefinition } from './packets/column-definition.js';
import { writeEofPacket } from './packets/eof-packet.js';
import { writeOkPacket } from './packets/ok-packet.js';

export interface TextResultSet {
  columns: ColumnDefinition[];
  /** Each value as text, or null for SQL NULL. */
  rows: Array<Array<string | null>>;
  /** The status the server would report after the statement. */
  statusFlags: number;
  warnings: number;
}

/** The payloads in order; the caller frames them with sequence ids from 1. */
export function writeTextResultSet(rs: TextResultSet, capabilities: number, mariadbCapabilities: number): Buffer[] {
  const n = rs.columns.length;
  if (n === 0) throw new ProtocolError('text result set: a result set has at least one column');
  const count = new PacketWriter(10).lenencInt(n);
  if (mariadbCapabilities & MARIADB_CLIENT_CACHE_METADATA) count.u8(1); // metadata follows
  const out = [count.payload()];
  for (const c of rs.columns) out.push(writeColumnDefinition(c, mariadbCapabilities));
  const deprecateEof = (capabilities & CLIENT_DEPRECATE_EOF) !== 0;
  const status = { warnings: rs.warnings, statusFlags: rs.statusFlags };
  if (!deprecateEof) out.push(writeEofPacket(status));
  for (const row of rs.rows) {
    if (row.length !== n) throw new ProtocolError(`text result set: a row has ${row.length} values for ${n} columns`);
    const w = new PacketWriter(16);
    for (const v of row) {
      if (v === null) w.u8(0xfb);
      else w.lenencString(v);
    }
    out.push(w.payload());
  }
  if (!deprecateEof) {
    out.push(writeEofPacket(status));
  } else {
    const ok = writeOkPacket({ affectedRows: 0, lastInsertId: 0, info: '', ...status }, capabilities);
    ok[0] = EOF_HEADER;
    out.push(ok);
  }
  return out;
}
