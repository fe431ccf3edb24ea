// Server -> Client: ColumnDefinition41, one per column of a result set, as a server
// writes it for an expression (no table): catalog "def", empty schema and tables.
// MariaDB adds an extended-type-info string (empty here) when the client negotiated
// MARIADB_CLIENT_EXTENDED_TYPE_INFO.
// https://mariadb.com/kb/en/result-set-packets/#column-definition-packet
import { MARIADB_CLIENT_EXTENDED_TYPE_INFO } from '../constants.js';
import { PacketWriter } from '../packet-writer.js';

/** Field types (the one byte after the length); only those the proxy writes. */
export const MYSQL_TYPE_LONG = 0x03;
export const MYSQL_TYPE_DOUBLE = 0x05;
export const MYSQL_TYPE_LONGLONG = 0x08;
export const MYSQL_TYPE_VAR_STRING = 0xfd;

/** Column flags. */
export const NOT_NULL_FLAG = 0x0001;
export const UNSIGNED_FLAG = 0x0020;
export const BINARY_FLAG = 0x0080;

/** The `binary` collation: what a server reports for numbers. */
export const BINARY_COLLATION = 63;

export interface ColumnDefinition {
  /** The column's alias, as the client sees it. */
  name: string;
  charset: number;
  /** Display width in characters. */
  length: number;
  type: number;
  flags: number;
  decimals: number;
}

/** Charset, length, type, flags, decimals and 2 unused bytes. */
const FIXED_FIELDS_LENGTH = 12;

export function writeColumnDefinition(c: ColumnDefinition, mariadbCapabilities: number): Buffer {
  const w = new PacketWriter(32 + Buffer.byteLength(c.name))
    .lenencString('def')
    .lenencString('') // schema
    .lenencString('') // table alias
    .lenencString('') // table
    .lenencString(c.name)
    .lenencString(''); // column
  if (mariadbCapabilities & MARIADB_CLIENT_EXTENDED_TYPE_INFO) w.lenencString('');
  return w
    .lenencInt(FIXED_FIELDS_LENGTH)
    .u16(c.charset)
    .u32(c.length)
    .u8(c.type)
    .u16(c.flags)
    .u8(c.decimals)
    .zeros(2)
    .payload();
}
