// Server -> Client: the replies a transaction-pooled session writes itself, holding no
// compute connection (so nothing else is on its way to the client, and its status is
// known: autocommit on, no transaction): an OK, an ERR, the result of a bare SELECT
// CONNECTION_ID(). Each is framed with sequence ids following the command's.
import {
  BINARY_COLLATION,
  BINARY_FLAG,
  CLIENT_PROTOCOL_41,
  MYSQL_TYPE_LONG,
  NOT_NULL_FLAG,
  SERVER_STATUS_ANSI_QUOTES,
  SERVER_STATUS_AUTOCOMMIT,
  SERVER_STATUS_NO_BACKSLASH_ESCAPES,
  UNSIGNED_FLAG,
  framePacket,
  writeErrPacket,
  writeOkPacket,
  writeTextResultSet,
  type ErrPacket,
} from '../protocol/index.js';

/** The status of a session between transactions: autocommit, and what sql_mode shows in every status. */
export function idleStatus(lastStatus: number): number {
  return SERVER_STATUS_AUTOCOMMIT | (lastStatus & (SERVER_STATUS_NO_BACKSLASH_ESCAPES | SERVER_STATUS_ANSI_QUOTES));
}

/** An OK after the command whose last packet had `sequenceId`. */
export function okReply(capabilities: number, statusFlags: number, sequenceId: number): Buffer {
  const ok = writeOkPacket({ affectedRows: 0, lastInsertId: 0, statusFlags, warnings: 0, info: '' }, capabilities);
  return framePacket(ok, (sequenceId + 1) & 0xff);
}

export function errReply(error: ErrPacket, sequenceId: number): Buffer {
  return framePacket(writeErrPacket(error, CLIENT_PROTOCOL_41), (sequenceId + 1) & 0xff);
}

/** SELECT CONNECTION_ID()'s result as mariadbd writes it (INT UNSIGNED NOT NULL, width 10), named `name`. */
export function connectionIdReply(
  name: string,
  id: number,
  capabilities: number,
  mariadbCapabilities: number,
  statusFlags: number,
  sequenceId: number,
): Buffer {
  const payloads = writeTextResultSet(
    {
      columns: [{ name, charset: BINARY_COLLATION, length: 10, type: MYSQL_TYPE_LONG, flags: NOT_NULL_FLAG | UNSIGNED_FLAG | BINARY_FLAG, decimals: 0 }],
      rows: [[String(id)]],
      statusFlags,
      warnings: 0,
    },
    capabilities,
    mariadbCapabilities,
  );
  return Buffer.concat(payloads.map((p, i) => framePacket(p, (sequenceId + 1 + i) & 0xff)));
}
