// Server -> Client: where each reply to a text-protocol command ends, found in the byte
// stream as it is relayed, without copying it. Transaction pooling needs exactly this:
// a backend may go back to the pool only between replies, and only when the status
// flags of the last one say no transaction is open.
//
// A reply is an OK, an ERR, a LOCAL INFILE request followed (after the client's file)
// by an OK or ERR, or a result set; a status with SERVER_MORE_RESULTS_EXISTS chains
// another result into the same reply (multi-statements, CALL). Only packet headers and
// the first bytes of the few packets that decide something (OK, EOF, ERR, column count)
// are looked at (packet-head.ts); rows and column definitions are counted and skipped.
// The framing itself (headers, 16 MiB continuations) is the frame scanner's.
//
// Prepared statements: an execute's result set has the same shape (binary rows start
// with 0x00, never 0xfe or 0xff), except that one which opens a cursor ends after its
// column definitions, with CURSOR_EXISTS in the status; a COM_STMT_FETCH reply is rows
// and an EOF only (expectRows). Checked against MariaDB 10.11, with and without
// CLIENT_DEPRECATE_EOF.
//
// With a SessionStateWatcher (transaction pooling) every OK is read whole and the
// tracker also says what to send the client (`output`; reply-filter.ts).
// https://mariadb.com/kb/en/result-set-packets/
import {
  CLIENT_DEPRECATE_EOF,
  EOF_HEADER,
  ERR_HEADER,
  LOCAL_INFILE_HEADER,
  MARIADB_CLIENT_CACHE_METADATA,
  MARIADB_CLIENT_PROGRESS,
  OK_HEADER,
  SERVER_MORE_RESULTS_EXISTS,
  SERVER_SESSION_STATE_CHANGED,
  SERVER_STATUS_CURSOR_EXISTS,
} from './constants.js';
import { FrameScanner, MAX_PAYLOAD_LENGTH, type FrameSink } from './frame-scanner.js';
import { HEAD_LENGTH, PacketHead } from './packet-head.js';
import { PROGRESS_REPORT_ERROR_CODE } from './packets/err-packet.js';
import { ProtocolError } from './protocol-error.js';
import { ReplyFilter, type SessionStateWatcher } from './reply-filter.js';

export interface ReplyEnd {
  /** Status flags of the reply's last OK or EOF; for an ERR, those of the last status seen before. */
  statusFlags: number;
  /** Some result of the reply had SERVER_SESSION_STATE_CHANGED (needs CLIENT_SESSION_TRACK). */
  stateChanged: boolean;
  failed: boolean;
}

type State = 'first' | 'columns' | 'columns_eof' | 'rows';

/** An EOF packet is shorter than this; a row starting with 0xfe is not. */
const EOF_MAX_LENGTH = 9;

export class ReplyTracker implements FrameSink {
  private deprecateEof = false;
  private cachedMetadata = false;
  private progress = false;
  private readonly scanner = new FrameScanner(this);
  /** The first bytes of the packet being read. */
  private readonly head = new PacketHead();
  /** With a watcher: what reaches the client. */
  private readonly filter: ReplyFilter | null;
  private pendingReplies = 0;
  private state: State = 'first';
  private columnsLeft = 0;
  private stateChanged = false;
  private lastStatus = 0;
  private infile = false;
  /** Replies expected and ended so far, to place the rare rows-only ones (expectRows). */
  private expected = 0;
  private ended = 0;
  /** The numbers (by `expected`) of rows-only replies still to come; null when none. */
  private rowsOnly: number[] | null = null;

  /**
   * `capabilities`/`mariadbCapabilities` as negotiated on the connection; `initialStatus`
   * is what the connection's status is known to be before the first reply.
   */
  constructor(
    capabilities: number,
    mariadbCapabilities: number,
    initialStatus: number,
    private readonly onReply: (end: ReplyEnd) => void,
    watcher: SessionStateWatcher | null = null,
  ) {
    this.filter = watcher ? new ReplyFilter(watcher, this.scanner, this.head) : null;
    this.reset(capabilities, mariadbCapabilities, initialStatus);
  }

  /** As if just made for a connection: a relay keeps one tracker for every connection it borrows, not one per borrow. */
  reset(capabilities: number, mariadbCapabilities: number, initialStatus: number): void {
    this.deprecateEof = (capabilities & CLIENT_DEPRECATE_EOF) !== 0;
    this.cachedMetadata = (mariadbCapabilities & MARIADB_CLIENT_CACHE_METADATA) !== 0;
    this.progress = (mariadbCapabilities & MARIADB_CLIENT_PROGRESS) !== 0;
    this.lastStatus = initialStatus;
    this.pendingReplies = 0;
    this.state = 'first';
    this.columnsLeft = 0;
    this.stateChanged = false;
    this.infile = false;
    this.expected = 0;
    this.ended = 0;
    this.rowsOnly = null;
    this.scanner.reset();
    this.head.clear(); // the next packet's start sets the rest
    this.filter?.reset();
  }

  /** Replies sent for but not yet complete. */
  get pending(): number {
    return this.pendingReplies;
  }

  /** Between a LOCAL INFILE request and the end of the client's file (an empty packet). */
  get awaitingInfile(): boolean {
    return this.infile;
  }

  /** With a watcher, after push(): the pieces to send the client, or null to send the chunk as it came. */
  get output(): Buffer[] | null {
    return this.filter === null ? null : this.filter.output;
  }

  /** A command went to the server: one more reply to wait for; `swallow` (with a watcher): the proxy's own, not the client's. */
  expect(swallow = false): void {
    this.pendingReplies++;
    this.expected++;
    this.filter?.expect(swallow);
  }

  /** A COM_STMT_FETCH went: its reply is rows and an EOF, without a column count or definitions. */
  expectRows(): void {
    (this.rowsOnly ??= []).push(this.expected);
    if (this.pendingReplies === 0) this.state = 'rows';
    this.expect();
  }

  /** The client sent the empty packet that ends a LOCAL INFILE file. */
  infileSent(): void {
    this.infile = false;
  }

  /**
   * Feed server bytes in order. Calls onReply for each reply that ends in them. Throws
   * ProtocolError when bytes arrive that no command asked for, or make no sense: the
   * connection is then out of step and must go.
   */
  push(chunk: Buffer): void {
    const f = this.filter;
    f?.chunkStarts();
    this.scanner.scan(chunk);
    // A packet still arriving keeps its head, not the chunk it was seen in.
    this.head.keep(chunk);
    f?.chunkEnds(chunk);
  }

  /** The server's stream ended here: ProtocolError if inside a packet or with a reply pending. */
  end(): void {
    this.scanner.end('server stream');
    if (this.pendingReplies > 0) throw new ProtocolError(`server stream ended with ${this.pendingReplies} replies pending`);
  }

  /** Only a packet's head decides anything: the rest (rows, large or not) is skipped unseen. */
  onPacketStart(length: number, _sequenceId: number, headerAt: number): number {
    if (this.pendingReplies === 0) {
      throw new ProtocolError(`server sent a ${length}-byte packet while no reply was pending`);
    }
    this.head.start(length);
    if (length === MAX_PAYLOAD_LENGTH) this.checkLargePacket();
    this.filter?.packetStarts(headerAt);
    return HEAD_LENGTH;
  }

  onPayload(chunk: Buffer, start: number, end: number): void {
    const f = this.filter;
    if (f !== null) {
      if (this.head.fill === 0 && this.okWanted(chunk[start]!)) f.okStarts();
      if (f.readingOk) f.okBytes(chunk, start, end);
    }
    this.head.take(chunk, start, end);
  }

  onPacketEnd(chunk: Buffer, end: number, sequenceId: number): boolean {
    const f = this.filter;
    if (f === null) {
      this.packetDone();
      this.head.clear();
      return false;
    }
    const swallowed = f.swallowed;
    const replacement = f.readingOk ? f.readOk(swallowed) : null;
    this.packetDone();
    this.head.clear();
    f.packetEnds(chunk, end, sequenceId, swallowed, replacement);
    return false;
  }

  /** Only rows and column definitions can be 16 MiB; anything else that long is garbage. */
  private checkLargePacket(): void {
    if (this.state !== 'rows' && this.state !== 'columns') {
      throw new ProtocolError(`server sent a ${MAX_PAYLOAD_LENGTH}-byte packet where a reply starts`);
    }
  }

  private packetDone(): void {
    const head = this.head;
    if (head.length === MAX_PAYLOAD_LENGTH) {
      // A packet continued past 16 MiB: only a row or a column definition (checked at its start).
      if (this.state === 'columns') this.columnDone();
      return;
    }
    const first = head.first();
    switch (this.state) {
      case 'first':
        return this.firstPacket(first);
      case 'columns':
        return this.columnDone();
      case 'columns_eof':
        if (first !== EOF_HEADER || head.length >= EOF_MAX_LENGTH) {
          throw new ProtocolError('expected EOF after the column definitions');
        }
        // An execute that opened a cursor ends here; its rows come with COM_STMT_FETCH.
        if (head.eofStatus() & SERVER_STATUS_CURSOR_EXISTS) return this.resultDone(head.eofStatus());
        this.state = 'rows';
        return;
      case 'rows':
        if (first === ERR_HEADER) return this.errPacket();
        if (first === EOF_HEADER && (this.deprecateEof || head.length < EOF_MAX_LENGTH)) {
          return this.resultDone(this.deprecateEof ? head.okStatus() : head.eofStatus());
        }
        return;
    }
  }

  private columnDone(): void {
    if (--this.columnsLeft === 0) this.state = this.deprecateEof ? 'rows' : 'columns_eof';
  }

  private firstPacket(first: number): void {
    const head = this.head;
    if (first === OK_HEADER) return this.resultDone(head.okStatus());
    if (first === ERR_HEADER) return this.errPacket();
    if (first === LOCAL_INFILE_HEADER) {
      // The client answers with its file; the server's OK or ERR after it ends the reply.
      this.infile = true;
      return;
    }
    const count = head.lenenc(0, 'column count');
    if (count === 0) throw new ProtocolError('column count of 0');
    const size = head.lenencSize;
    let metadataFollows = true;
    if (this.cachedMetadata && head.length > size) metadataFollows = head.byte(size) !== 0;
    this.columnsLeft = count;
    this.state = metadataFollows ? 'columns' : this.deprecateEof ? 'rows' : 'columns_eof';
  }

  private errPacket(): void {
    if (this.progress && this.head.length >= 3 && this.head.uint16(1) === PROGRESS_REPORT_ERROR_CODE) return;
    this.replyDone(true);
  }

  private resultDone(status: number): void {
    this.lastStatus = status;
    if (status & SERVER_SESSION_STATE_CHANGED) this.stateChanged = true;
    if (status & SERVER_MORE_RESULTS_EXISTS) {
      this.state = 'first';
      return;
    }
    this.replyDone(false);
  }

  private replyDone(failed: boolean): void {
    const end: ReplyEnd = { statusFlags: this.lastStatus, stateChanged: this.stateChanged, failed };
    this.state = 'first';
    const rowsOnly = this.rowsOnly;
    if (rowsOnly !== null) {
      if (rowsOnly[0] === this.ended) rowsOnly.shift();
      if (rowsOnly[0] === this.ended + 1) this.state = 'rows';
      if (rowsOnly.length === 0) this.rowsOnly = null;
    }
    this.ended++;
    this.stateChanged = false;
    this.infile = false;
    this.pendingReplies--;
    if (this.filter?.replyEnded()) {
      // The proxy's own command: its status is the connection's, but the client is told nothing.
      if (!failed) return;
      throw new ProtocolError('a command the proxy sent for itself failed');
    }
    this.onReply(end);
  }

  /** Whether a packet starting with `first` is an OK to read whole (one that may carry session state). */
  private okWanted(first: number): boolean {
    if (this.head.length === MAX_PAYLOAD_LENGTH) return false;
    if (this.state === 'first') return first === OK_HEADER;
    return this.state === 'rows' && this.deprecateEof && first === EOF_HEADER;
  }
}
