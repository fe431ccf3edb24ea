/**
 * Wire constants with the names the MySQL and MariaDB docs use. Plain consts (no enums)
 * so they inline. 32-bit flags: JS bitwise results are signed, so combine with `>>> 0`
 * where the result must stay an unsigned 32-bit number (bit 31 is CLIENT_REMEMBER_OPTIONS).
 */

export const PROTOCOL_VERSION = 10;

// Capability flags (lower 32 bits, exchanged in the greeting and handshake response).
/** MariaDB's name for bit 0: set by MySQL clients, clear when the MariaDB extended caps are in the filler. */
export const CLIENT_MYSQL = 0x00000001;
export const CLIENT_LONG_PASSWORD = CLIENT_MYSQL;
export const CLIENT_FOUND_ROWS = 0x00000002;
export const CLIENT_LONG_FLAG = 0x00000004;
export const CLIENT_CONNECT_WITH_DB = 0x00000008;
export const CLIENT_NO_SCHEMA = 0x00000010;
export const CLIENT_COMPRESS = 0x00000020;
export const CLIENT_ODBC = 0x00000040;
export const CLIENT_LOCAL_FILES = 0x00000080;
export const CLIENT_IGNORE_SPACE = 0x00000100;
export const CLIENT_PROTOCOL_41 = 0x00000200;
export const CLIENT_INTERACTIVE = 0x00000400;
export const CLIENT_SSL = 0x00000800;
export const CLIENT_IGNORE_SIGPIPE = 0x00001000;
export const CLIENT_TRANSACTIONS = 0x00002000;
export const CLIENT_RESERVED = 0x00004000;
export const CLIENT_SECURE_CONNECTION = 0x00008000;
export const CLIENT_MULTI_STATEMENTS = 0x00010000;
export const CLIENT_MULTI_RESULTS = 0x00020000;
export const CLIENT_PS_MULTI_RESULTS = 0x00040000;
export const CLIENT_PLUGIN_AUTH = 0x00080000;
export const CLIENT_CONNECT_ATTRS = 0x00100000;
export const CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA = 0x00200000;
export const CLIENT_CAN_HANDLE_EXPIRED_PASSWORDS = 0x00400000;
export const CLIENT_SESSION_TRACK = 0x00800000;
export const CLIENT_DEPRECATE_EOF = 0x01000000;
export const CLIENT_OPTIONAL_RESULTSET_METADATA = 0x02000000;
export const CLIENT_ZSTD_COMPRESSION_ALGORITHM = 0x04000000;
export const CLIENT_QUERY_ATTRIBUTES = 0x08000000;
/** MySQL 8.0.27+ only; MariaDB leaves this bit unused. */
export const CLIENT_MULTI_FACTOR_AUTHENTICATION = 0x10000000;
/** MariaDB: formerly CLIENT_PROGRESS, now MARIADB_CLIENT_PROGRESS in the extended caps. */
export const CLIENT_PROGRESS_OBSOLETE = 0x20000000;
export const CLIENT_SSL_VERIFY_SERVER_CERT = 0x40000000;
export const CLIENT_REMEMBER_OPTIONS = 0x80000000;

// MariaDB extended capabilities (the upper 32 bits of MariaDB's 64-bit flags), sent in
// the last 4 filler bytes of the greeting and handshake response when CLIENT_MYSQL is clear.
export const MARIADB_CLIENT_PROGRESS = 0x00000001;
export const MARIADB_CLIENT_COM_MULTI = 0x00000002;
export const MARIADB_CLIENT_STMT_BULK_OPERATIONS = 0x00000004;
export const MARIADB_CLIENT_EXTENDED_TYPE_INFO = 0x00000008;
export const MARIADB_CLIENT_CACHE_METADATA = 0x00000010;
/** MariaDB 11.5+. */
export const MARIADB_CLIENT_BULK_UNIT_RESULTS = 0x00000040;

// Server status flags (OK and EOF packets, greeting).
export const SERVER_STATUS_IN_TRANS = 0x0001;
export const SERVER_STATUS_AUTOCOMMIT = 0x0002;
export const SERVER_MORE_RESULTS_EXISTS = 0x0008;
export const SERVER_STATUS_NO_GOOD_INDEX_USED = 0x0010;
export const SERVER_STATUS_NO_INDEX_USED = 0x0020;
export const SERVER_STATUS_CURSOR_EXISTS = 0x0040;
export const SERVER_STATUS_LAST_ROW_SENT = 0x0080;
export const SERVER_STATUS_DB_DROPPED = 0x0100;
export const SERVER_STATUS_NO_BACKSLASH_ESCAPES = 0x0200;
export const SERVER_STATUS_METADATA_CHANGED = 0x0400;
export const SERVER_QUERY_WAS_SLOW = 0x0800;
export const SERVER_PS_OUT_PARAMS = 0x1000;
export const SERVER_STATUS_IN_TRANS_READONLY = 0x2000;
export const SERVER_SESSION_STATE_CHANGED = 0x4000;
/** MariaDB: sql_mode has ANSI_QUOTES. */
export const SERVER_STATUS_ANSI_QUOTES = 0x8000;

// Command bytes: the first byte of every client packet after the handshake.
export const COM_SLEEP = 0x00;
export const COM_QUIT = 0x01;
export const COM_INIT_DB = 0x02;
export const COM_QUERY = 0x03;
export const COM_FIELD_LIST = 0x04;
export const COM_CREATE_DB = 0x05;
export const COM_DROP_DB = 0x06;
export const COM_REFRESH = 0x07;
export const COM_SHUTDOWN = 0x08;
export const COM_STATISTICS = 0x09;
export const COM_PROCESS_INFO = 0x0a;
export const COM_CONNECT = 0x0b;
export const COM_PROCESS_KILL = 0x0c;
export const COM_DEBUG = 0x0d;
export const COM_PING = 0x0e;
export const COM_TIME = 0x0f;
export const COM_DELAYED_INSERT = 0x10;
export const COM_CHANGE_USER = 0x11;
export const COM_BINLOG_DUMP = 0x12;
export const COM_TABLE_DUMP = 0x13;
export const COM_CONNECT_OUT = 0x14;
export const COM_REGISTER_SLAVE = 0x15;
export const COM_STMT_PREPARE = 0x16;
export const COM_STMT_EXECUTE = 0x17;
export const COM_STMT_SEND_LONG_DATA = 0x18;
export const COM_STMT_CLOSE = 0x19;
export const COM_STMT_RESET = 0x1a;
export const COM_SET_OPTION = 0x1b;
export const COM_STMT_FETCH = 0x1c;
export const COM_DAEMON = 0x1d;
export const COM_BINLOG_DUMP_GTID = 0x1e;
export const COM_RESET_CONNECTION = 0x1f;
/** MariaDB: array binding for prepared statements (needs MARIADB_CLIENT_STMT_BULK_OPERATIONS). */
export const COM_STMT_BULK_EXECUTE = 0xfa;

// First byte of a server reply; which one applies depends on the phase of the exchange.
export const OK_HEADER = 0x00;
export const EOF_HEADER = 0xfe;
export const ERR_HEADER = 0xff;
export const AUTH_SWITCH_HEADER = 0xfe;
export const AUTH_MORE_DATA_HEADER = 0x01;
export const LOCAL_INFILE_HEADER = 0xfb;

// Collation ids (the charset byte of the greeting and handshake response).
export const LATIN1_SWEDISH_CI = 8;
export const UTF8MB3_GENERAL_CI = 33;
export const UTF8MB4_GENERAL_CI = 45;
export const BINARY = 63;
export const UTF8MB4_UNICODE_CI = 224;

const COMMAND_NAMES: Record<number, string> = {
  [COM_SLEEP]: 'COM_SLEEP', [COM_QUIT]: 'COM_QUIT', [COM_INIT_DB]: 'COM_INIT_DB',
  [COM_QUERY]: 'COM_QUERY', [COM_FIELD_LIST]: 'COM_FIELD_LIST', [COM_CREATE_DB]: 'COM_CREATE_DB',
  [COM_DROP_DB]: 'COM_DROP_DB', [COM_REFRESH]: 'COM_REFRESH', [COM_SHUTDOWN]: 'COM_SHUTDOWN',
  [COM_STATISTICS]: 'COM_STATISTICS', [COM_PROCESS_INFO]: 'COM_PROCESS_INFO',
  [COM_CONNECT]: 'COM_CONNECT', [COM_PROCESS_KILL]: 'COM_PROCESS_KILL', [COM_DEBUG]: 'COM_DEBUG',
  [COM_PING]: 'COM_PING', [COM_TIME]: 'COM_TIME', [COM_DELAYED_INSERT]: 'COM_DELAYED_INSERT',
  [COM_CHANGE_USER]: 'COM_CHANGE_USER', [COM_BINLOG_DUMP]: 'COM_BINLOG_DUMP',
  [COM_TABLE_DUMP]: 'COM_TABLE_DUMP', [COM_CONNECT_OUT]: 'COM_CONNECT_OUT',
  [COM_REGISTER_SLAVE]: 'COM_REGISTER_SLAVE', [COM_STMT_PREPARE]: 'COM_STMT_PREPARE',
  [COM_STMT_EXECUTE]: 'COM_STMT_EXECUTE', [COM_STMT_SEND_LONG_DATA]: 'COM_STMT_SEND_LONG_DATA',
  [COM_STMT_CLOSE]: 'COM_STMT_CLOSE', [COM_STMT_RESET]: 'COM_STMT_RESET',
  [COM_SET_OPTION]: 'COM_SET_OPTION', [COM_STMT_FETCH]: 'COM_STMT_FETCH', [COM_DAEMON]: 'COM_DAEMON',
  [COM_BINLOG_DUMP_GTID]: 'COM_BINLOG_DUMP_GTID', [COM_RESET_CONNECTION]: 'COM_RESET_CONNECTION',
  [COM_STMT_BULK_EXECUTE]: 'COM_STMT_BULK_EXECUTE',
};

/** Name of a command byte for logs and metrics labels, e.g. "COM_QUERY", or "COM_0x42". */
export function commandName(command: number): string {
  return COMMAND_NAMES[command] ?? `COM_0x${command.toString(16).padStart(2, '0')}`;
}
