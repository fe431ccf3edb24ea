// Server -> Client: the reply to a text-protocol command (COM_QUERY and friends), read a
// packet at a time: an OK, an ERR, or a result set (column count, column definitions,
// EOF unless CLIENT_DEPRECATE_EOF, text rows, EOF or 0xfe-OK or ERR).
// https://mariadb.com/kb/en/result-set-packets/  https://mariadb.com/kb/en/resultset-row/
//
// For the proxy's own small queries on backend connections (reset checks, tests), not
// for relaying: it keeps rows in memory.
import {
  CLIENT_DEPRECATE_EOF,
  EOF_HEADER,
  ERR_HEADER,
  LOCAL_INFILE_HEADER,
  MARIADB_CLIENT_CACHE_METADATA,
  MARIADB_CLIENT_EXTENDED_TYPE_INFO,
  MARIADB_CLIENT_PROGRESS,
  OK_HEADER,
  SERVER_MORE_RESULTS_EXISTS,
} from './constants.js';
import { MAX_PAYLOAD_LENGTH } from './framing.js';
import { PacketReader } from './packet-reader.js';
import { ProtocolError } from './protocol-error.js';
import { isEofPacket, parseEofPacket } from './packets/eof-packet.js';
import { PROGRESS_REPORT_ERROR_CODE, parseErrPacket, type ErrPacket } from './packets/err-packet.js';
import { parseOkPacket, type OkPacket } from './packets/ok-packet.js';

export type TextValue = string | null;

export type CommandReply =
  | { kind: 'ok'; ok: OkPacket }
  | { kind: 'error'; error: ErrPacket }
  | { kind: 'rows'; columns: string[]; rows: TextValue[][]; statusFlags: number; warnings: number };

type State = 'first' | 'columns' | 'columns_eof' | 'rows' | 'done';

const LABEL = 'text result set';
/** Charset, length, type, flags, decimals and 2 unused bytes. */
const COLUMN_FIXED_FIELDS_LENGTH = 12;

/**
 * Incremental reader for one reply. push() each payload in order; it returns the reply
 * once complete, else null. A reply whose status has SERVER_MORE_RESULTS_EXISTS is
 * followed by another: read it with a fresh reader (see moreResults()).
 */
export class TextResultReader {
  private state: State = 'first';
  private columnCount = 0;
  private readonly columns: string[] = [];
  private readonly rows: TextValue[][] = [];

  constructor(
    private readonly capabilities: number,
    private readonly mariadbCapabilities = 0,
  ) {}

  push(payload: Buffer): CommandReply | null {
    switch (this.state) {
      case 'first':
        return this.first(payload);
      case 'columns':
        this.columns.push(readColumnName(payload, this.mariadbCapabilities));
        if (this.columns.length === this.columnCount) this.state = this.afterColumns();
        return null;
      case 'columns_eof':
        if (!isEofPacket(payload)) throw new ProtocolError(`${LABEL}: expected EOF after column definitions`);
        this.state = 'rows';
        return null;
      case 'rows':
        return this.row(payload);
      case 'done':
        throw new ProtocolError(`${LABEL}: packet after the reply ended`);
    }
  }

  private first(payload: Buffer): CommandReply | null {
    const header = payload[0];
    if (header === OK_HEADER && payload.length >= 7) {
      return this.finish({ kind: 'ok', ok: parseOkPacket(payload, this.capabilities) });
    }
    if (header === ERR_HEADER) return this.error(payload);
    if (header === LOCAL_INFILE_HEADER) throw new ProtocolError(`${LABEL}: LOCAL INFILE request is not supported here`);
    const r = new PacketReader(payload, 0, LABEL);
    this.columnCount = r.lenencInt('column count');
    if (this.columnCount === 0) throw r.error('column count of 0');
    let metadataFollows = true;
    // Present only when both sides declared MARIADB_CLIENT_CACHE_METADATA; tolerate its absence.
    if (this.mariadbCapabilities & MARIADB_CLIENT_CACHE_METADATA && r.remaining > 0) {
      metadataFollows = r.u8('metadata follows') !== 0;
    }
    if (r.remaining > 0) throw r.error(`${r.remaining} unexpected bytes after the column count`);
    // Without metadata the names stay unknown; a reader that needs them must not cache metadata.
    if (!metadataFollows) {
      for (let i = 0; i < this.columnCount; i++) this.columns.push('');
      this.state = this.afterColumns();
    } else {
      this.state = 'columns';
    }
    return null;
  }

  private afterColumns(): State {
    return this.capabilities & CLIENT_DEPRECATE_EOF ? 'rows' : 'columns_eof';
  }

  private row(payload: Buffer): CommandReply | null {
    const header = payload[0];
    if (header === ERR_HEADER) return this.error(payload);
    if (header === EOF_HEADER && payload.length < MAX_PAYLOAD_LENGTH) {
      if (this.capabilities & CLIENT_DEPRECATE_EOF) {
        const ok = parseOkPacket(payload, this.capabilities);
        return this.finishRows(ok.statusFlags, ok.warnings);
      }
      if (isEofPacket(payload)) {
        const eof = parseEofPacket(payload);
        return this.finishRows(eof.statusFlags, eof.warnings);
      }
    }
    this.rows.push(readTextRow(payload, this.columnCount));
    return null;
  }

  private error(payload: Buffer): CommandReply | null {
    const error = parseErrPacket(payload, this.capabilities);
    // MariaDB's progress reports ride on ERR packets; the command is still running.
    if (error.code === PROGRESS_REPORT_ERROR_CODE && this.mariadbCapabilities & MARIADB_CLIENT_PROGRESS) return null;
    return this.finish({ kind: 'error', error });
  }

  private finishRows(statusFlags: number, warnings: number): CommandReply {
    return this.finish({ kind: 'rows', columns: this.columns, rows: this.rows, statusFlags, warnings });
  }

  private finish(reply: CommandReply): CommandReply {
    this.state = 'done';
    return reply;
  }
}

/** Whether another result follows this reply (multi-statements, stored procedures). */
export function moreResults(reply: CommandReply): boolean {
  const flags = reply.kind === 'ok' ? reply.ok.statusFlags : reply.kind === 'rows' ? reply.statusFlags : 0;
  return (flags & SERVER_MORE_RESULTS_EXISTS) !== 0;
}

/** Column alias from a ColumnDefinition41, the rest checked for shape but not kept. */
function readColumnName(payload: Buffer, mariadbCapabilities: number): string {
  const r = new PacketReader(payload, 0, 'ColumnDefinition41');
  r.skipLenenc('catalog');
  r.skipLenenc('schema');
  r.skipLenenc('table alias');
  r.skipLenenc('table');
  const name = r.lenencString('column alias');
  r.skipLenenc('column');
  if (mariadbCapabilities & MARIADB_CLIENT_EXTENDED_TYPE_INFO) r.skipLenenc('extended type info');
  const fixed = r.lenencInt('length of fixed fields');
  if (fixed !== COLUMN_FIXED_FIELDS_LENGTH) throw r.error(`length of fixed fields is ${fixed}, expected 12`);
  r.skip(fixed, 'fixed fields');
  if (r.remaining > 0) throw r.error(`${r.remaining} unexpected bytes after the fixed fields`);
  return name;
}

function readTextRow(payload: Buffer, columns: number): TextValue[] {
  const r = new PacketReader(payload, 0, 'ResultsetRow');
  const values: TextValue[] = [];
  for (let i = 0; i < columns; i++) {
    if (r.remaining > 0 && payload[r.offset] === 0xfb) {
      r.skip(1, 'NULL');
      values.push(null);
    } else {
      values.push(r.lenencString(`column ${i + 1}`));
    }
  }
  if (r.remaining > 0) throw r.error(`${r.remaining} unexpected bytes after ${columns} columns`);
  return values;
}
