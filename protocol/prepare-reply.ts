// Server -> Client: the reply to COM_STMT_PREPARE, read whole. Either an ERR, or
// COM_STMT_PREPARE_OK: 0x00, statement id(4), column count(2), parameter count(2), a
// filler byte, warnings(2); then a definition per parameter and, unless
// CLIENT_DEPRECATE_EOF, an EOF; then a definition per result column and again an EOF.
// https://mariadb.com/kb/en/com_stmt_prepare/#COM_STMT_PREPARE_OK
//
// A proxy that prepares statements on connections of its choosing reads these whole:
// they are small, and it needs the id and the counts (to check that a statement
// prepared again elsewhere still has what the client was told).
import { CLIENT_DEPRECATE_EOF, EOF_HEADER, ERR_HEADER, OK_HEADER } from './constants.js';
import { ProtocolError } from './protocol-error.js';

export interface PrepareOk {
  statementId: number;
  columns: number;
  params: number;
}

/** An EOF packet is shorter than this; a column definition is not. */
const EOF_MAX_LENGTH = 9;

export class PrepareReplyReader {
  /** Every payload of the reply, in order. */
  readonly payloads: Buffer[] = [];
  ok: PrepareOk | null = null;
  /** The ERR's payload, when the prepare failed. */
  error: Buffer | null = null;
  private readonly deprecateEof: boolean;
  /** Packets still to come after the first. */
  private left = 0;
  private columnsFrom = 0;

  constructor(capabilities: number) {
    this.deprecateEof = (capabilities & CLIENT_DEPRECATE_EOF) !== 0;
  }

  /** One packet of the reply; true when it was the last. ProtocolError for what no prepare reply holds. */
  push(payload: Buffer): boolean {
    this.payloads.push(payload);
    if (this.payloads.length === 1) return this.first(payload);
    if (this.left === 0) throw new ProtocolError('bytes after the end of a COM_STMT_PREPARE reply');
    this.left--;
    return this.left === 0;
  }

  private first(p: Buffer): boolean {
    if (p[0] === ERR_HEADER) {
      this.error = p;
      return true;
    }
    if (p[0] !== OK_HEADER || p.length < 10) throw new ProtocolError(`unexpected ${p.length}-byte packet where COM_STMT_PREPARE_OK was due`);
    const ok: PrepareOk = { statementId: p.readUInt32LE(1), columns: p.readUInt16LE(5), params: p.readUInt16LE(7) };
    this.ok = ok;
    const eof = this.deprecateEof ? 0 : 1;
    const paramPackets = ok.params > 0 ? ok.params + eof : 0;
    this.columnsFrom = 1 + paramPackets;
    this.left = paramPackets + (ok.columns > 0 ? ok.columns + eof : 0);
    return this.left === 0;
  }

  /** Checks the EOFs where they are due: a reply out of step is not trusted. */
  check(): void {
    const ok = this.ok;
    if (!ok || this.deprecateEof) return;
    const eofAt = [ok.params > 0 ? ok.params + 1 : 0, ok.columns > 0 ? this.columnsFrom + ok.columns : 0];
    for (const at of eofAt) {
      const p = at > 0 ? this.payloads[at] : undefined;
      if (at > 0 && (!p || p[0] !== EOF_HEADER || p.length >= EOF_MAX_LENGTH)) {
        throw new ProtocolError('COM_STMT_PREPARE_OK: expected EOF after the definitions');
      }
    }
  }
}
