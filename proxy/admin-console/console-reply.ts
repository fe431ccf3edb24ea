// Server -> Client: what the admin console answers a statement with, and its
// payloads on the wire. Results are ordinary text result sets, so any MySQL client
// (and a script through any connector) reads them: text columns are utf8mb4
// strings, counts are BIGINTs, durations DOUBLEs in seconds with three decimals.
import {
  BINARY_COLLATION,
  BINARY_FLAG,
  CLIENT_PROTOCOL_41,
  MYSQL_TYPE_DOUBLE,
  MYSQL_TYPE_LONGLONG,
  MYSQL_TYPE_VAR_STRING,
  SERVER_STATUS_AUTOCOMMIT,
  UTF8MB4_GENERAL_CI,
  writeErrPacket,
  writeOkPacket,
  writeTextResultSet,
  type ColumnDefinition,
  type ErrPacket,
} from '../../protocol/index.js';

export type ColumnKind = 'text' | 'int' | 'seconds';

export interface ConsoleColumn {
  name: string;
  kind: ColumnKind;
}

export type Cell = string | number | null;

export type ConsoleReply =
  | { kind: 'rows'; columns: readonly ConsoleColumn[]; rows: Cell[][] }
  | { kind: 'ok'; info: string; affectedRows?: number }
  | { kind: 'error'; error: ErrPacket };

/** Seconds are shown to the millisecond. */
const SECOND_DECIMALS = 3;

export function rows(columns: readonly ConsoleColumn[], data: Cell[][]): ConsoleReply {
  return { kind: 'rows', columns, rows: data };
}

export function ok(info = '', affectedRows = 0): ConsoleReply {
  return { kind: 'ok', info, affectedRows };
}

export function error(code: number, sqlState: string, message: string): ConsoleReply {
  return { kind: 'error', error: { code, sqlState, message } };
}

/** Milliseconds (from performance.now() or Date.now() differences) as a seconds cell. */
export function seconds(ms: number): number {
  return Math.max(0, ms) / 1000;
}

/** The payloads in order; the caller frames them with sequence ids from 1. */
export function replyPayloads(reply: ConsoleReply, capabilities: number): Buffer[] {
  const status = { statusFlags: SERVER_STATUS_AUTOCOMMIT, warnings: 0 };
  switch (reply.kind) {
    case 'ok':
      return [writeOkPacket({ affectedRows: reply.affectedRows ?? 0, lastInsertId: 0, info: reply.info, ...status }, capabilities)];
    case 'error':
      return [writeErrPacket(reply.error, CLIENT_PROTOCOL_41)];
    case 'rows': {
      const kinds = reply.columns.map((c) => c.kind);
      const text = reply.rows.map((row) => row.map((v, i) => cellText(v, kinds[i]!)));
      // No MariaDB extended capabilities: the console's greeting says it is a plain MySQL-protocol server.
      return writeTextResultSet({ columns: reply.columns.map(definition), rows: text, ...status }, capabilities, 0);
    }
  }
}

function cellText(v: Cell, kind: ColumnKind): string | null {
  if (v === null) return null;
  if (typeof v === 'string') return v;
  return kind === 'seconds' ? v.toFixed(SECOND_DECIMALS) : String(Math.round(v));
}

function definition(c: ConsoleColumn): ColumnDefinition {
  switch (c.kind) {
    case 'text':
      return { name: c.name, charset: UTF8MB4_GENERAL_CI, length: 1024, type: MYSQL_TYPE_VAR_STRING, flags: 0, decimals: 0 };
    case 'int':
      return { name: c.name, charset: BINARY_COLLATION, length: 20, type: MYSQL_TYPE_LONGLONG, flags: BINARY_FLAG, decimals: 0 };
    case 'seconds':
      return { name: c.name, charset: BINARY_COLLATION, length: 22, type: MYSQL_TYPE_DOUBLE, flags: BINARY_FLAG, decimals: SECOND_DECIMALS };
  }
}
