// Server -> Client: where each reply to a text-protocol command ends, found in the byte
// stream as it is relayed, without copying it. Transaction pooling needs exactly this:
// a backend may go back to the pool only between replies, and only when the status
// flags of the last one say no transaction is open.
//
// A reply is an OK, an ERR, a LOCAL INFILE request followed (after the client's file)
// by an OK or ERR, or a result set; a status with SERVER_MORE_RESULTS_EXISTS chains
// another result into the same reply (multi-statements, CALL). Only packet headers and
// the first bytes of the few packets that decide something (OK, EOF, ERR, column count)
// are looked at; rows and column definitions are counted and skipped. The framing
// itself (headers, 16 MiB continuations) is the frame scanner's.
//
// Prepared statements: an execute's result set has the same shape (binary rows start
// with 0x00, never 0xfe or 0xff), except that one which opens a cursor ends after its
// column definitions, with CURSOR_EXISTS in the status; a COM_STMT_FETCH reply is rows
// and an EOF only (expectRows). Checked against MariaDB 10.11, with and without
// CLIENT_DEPRECATE_EOF.
//
// With a SessionStateWatcher (transaction pooling, where the proxy negotiates
// CLIENT_SESSION_TRACK with the compute whatever the client did), every OK is read
// whole and a flagged one's session-state block handed to the watcher. The tracker then
// also says what to send the client (`output`): the chunk as it came (the usual case,
// nothing copied), or pieces without the replies the proxy sent for itself (`expect(true)`)
// and, for a client without CLIENT_SESSION_TRACK, with flagged OKs rewritten as it
// expects them. A packet that may need rewriting is held back until it ends.
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
import { framePacket } from './framing.js';
import { okLayout, withoutSessionState } from './session-state.js';
import { PROGRESS_REPORT_ERROR_CODE } from './packets/err-packet.js';
import { ProtocolError } from './protocol-error.js';

export interface ReplyEnd {
  /** Status flags of the reply's last OK or EOF; for an ERR, those of the last status seen before. */
  statusFlags: number;
  /** Some result of the reply had SERVER_SESSION_STATE_CHANGED (needs CLIENT_SESSION_TRACK). */
  stateChanged: boolean;
  failed: boolean;
}

/** Who reads the session state of the OKs a tracker sees. */
export interface SessionStateWatcher {
  /** An OK in buf[start, end) whose session-state block begins at `stateAt`; `swallowed`: a reply the proxy sent for itself. */
  onSessionState(buf: Buffer, start: number, end: number, stateAt: number, swallowed: boolean): void;
  /** The client did not negotiate CLIENT_SESSION_TRACK: flagged OKs are rewritten without their session state. */
  readonly strip: boolean;
}

type State = 'first' | 'columns' | 'columns_eof' | 'rows';

/** Longest OK prefix that holds the status: header, two 9-byte lenencs, status. */
const HEAD_LENGTH = 21;
/** An EOF packet is shorter than this; a row starting with 0xfe is not. */
const EOF_MAX_LENGTH = 9;

export class ReplyTracker implements FrameSink {
  private readonly deprecateEof: boolean;
  private readonly cachedMetadata: boolean;
  private readonly progress: boolean;
  private readonly scanner = new FrameScanner(this);
  private pendingReplies = 0;
  private state: State = 'first';
  private columnsLeft = 0;
  private stateChanged = false;
  private lastStatus: number;
  private infile = false;
  // The packet being read.
  /** Its first fragment's length: 0xffffff for a packet that continues (a large row). */
  private packetLength = 0;
  /**
   * Where its first bytes are: a view into the pushed chunk when they arrived in one
   * piece (the usual case, nothing copied), else `copied`, filled across chunks.
   */
  private head: Buffer = EMPTY;
  private headAt = 0;
  private headFill = 0;
  /** Made on the first packet whose head is split across chunks; trackers are made per borrow. */
  private copied: Buffer | null = null;
  /** Size of the last length-encoded integer read by lenenc(). */
  private lenencSize = 0;
  // Reading OKs whole (with a watcher).
  /** The packet is an OK read whole: a view of the chunk, or `okCopy` when it came in pieces. */
  private okWhole = false;
  private okBuf: Buffer = EMPTY;
  private okAt = 0;
  private okFill = 0;
  private okCopy: Buffer | null = null;
  /** Per pending reply, in order: whether the proxy sent it for itself (its packets go nowhere). */
  private readonly swallow: boolean[] = [];
  private swallowing = 0;
  // What to send the client (with a watcher), while a push runs.
  /** After push(): the pieces to send the client, or null to send the chunk as it came. */
  output: Buffer[] | null = null;
  /** Bytes of the packet being read (or a header cut short) from earlier chunks, not sent yet. */
  private held: Buffer[] | null = null;
  /** Where the current packet's header began in the chunk, -1: in an earlier one. */
  private packetAt = -1;
  private inPacket = false;
  /** Bytes of the current chunk before this offset are decided (sent or dropped). */
  private sentTo = 0;
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
    private readonly watcher: SessionStateWatcher | null = null,
  ) {
    this.deprecateEof = (capabilities & CLIENT_DEPRECATE_EOF) !== 0;
    this.cachedMetadata = (mariadbCapabilities & MARIADB_CLIENT_CACHE_METADATA) !== 0;
    this.progress = (mariadbCapabilities & MARIADB_CLIENT_PROGRESS) !== 0;
    this.lastStatus = initialStatus;
  }

  /** Replies sent for but not yet complete. */
  get pending(): number {
    return this.pendingReplies;
  }

  /** Between a LOCAL INFILE request and the end of the client's file (an empty packet). */
  get awaitingInfile(): boolean {
    return this.infile;
  }

  /** A command went to the server: one more reply to wait for; `swallow` (with a watcher): the proxy's own, not the client's. */
  expect(swallow = false): void {
    this.pendingReplies++;
    this.expected++;
    if (this.watcher) {
      this.swallow.push(swallow);
      if (swallow) this.swallowing++;
    }
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
    if (!this.watcher) {
      this.scanner.scan(chunk);
      // A packet still arriving keeps its head, not the chunk it was seen in.
      if (this.head === chunk) this.copyHead();
      return;
    }
    this.output = null;
    this.sentTo = 0;
    if (this.inPacket) this.packetAt = -1; // it began in an earlier chunk
    this.scanner.scan(chunk);
    if (this.head === chunk) this.copyHead();
    if (this.okWhole && this.okBuf === chunk) this.copyOk(this.okAt, this.okFill);
    this.chunkDone(chunk);
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
    this.packetLength = length;
    this.headFill = 0;
    if (length === MAX_PAYLOAD_LENGTH) this.checkLargePacket();
    if (this.watcher) this.packetStarts(headerAt);
    return HEAD_LENGTH;
  }

  onPayload(chunk: Buffer, start: number, end: number): void {
    if (this.watcher) {
      if (this.headFill === 0 && this.okWanted(chunk[start]!)) {
        this.okWhole = true;
        this.okFill = 0;
        this.scanner.wantRest();
      }
      if (this.okWhole) this.okBytes(chunk, start, end);
    }
    const want = Math.min(this.packetLength, HEAD_LENGTH);
    if (this.headFill === 0) {
      if (end - start >= want) {
        this.head = chunk;
        this.headAt = start;
        this.headFill = want;
        return;
      }
      this.head = this.copied ??= Buffer.alloc(HEAD_LENGTH);
      this.headAt = 0;
    }
    const head = this.head;
    const take = Math.min(want - this.headFill, end - start);
    // At most 21 bytes: a loop, not Buffer#copy (which makes a view of the source per call).
    for (let i = 0; i < take; i++) head[this.headFill + i] = chunk[start + i]!;
    this.headFill += take;
  }

  onPacketEnd(chunk: Buffer, end: number, sequenceId: number): boolean {
    const swallowed = this.swallow[0] === true;
    let replacement: Buffer | null = null;
    if (this.okWhole) replacement = this.readOk(swallowed);
    this.packetDone();
    // Let go of the chunk: an idle tracker should not keep the last read alive.
    this.head = EMPTY;
    if (this.watcher) this.packetEnds(chunk, end, sequenceId, swallowed, replacement);
    return false;
  }

  /** Only rows and column definitions can be 16 MiB; anything else that long is garbage. */
  private checkLargePacket(): void {
    if (this.state !== 'rows' && this.state !== 'columns') {
      throw new ProtocolError(`server sent a ${MAX_PAYLOAD_LENGTH}-byte packet where a reply starts`);
    }
  }

  /** The head seen in a chunk, into the tracker's own bytes. */
  private copyHead(): void {
    const copied = (this.copied ??= Buffer.alloc(HEAD_LENGTH));
    for (let i = 0; i < this.headFill; i++) copied[i] = this.head[this.headAt + i]!;
    this.head = copied;
    this.headAt = 0;
  }

  private packetDone(): void {
    if (this.packetLength === MAX_PAYLOAD_LENGTH) {
      // A packet continued past 16 MiB: only a row or a column definition (checked at its start).
      if (this.state === 'columns') this.columnDone();
      return;
    }
    const first = this.packetLength > 0 ? this.head[this.headAt]! : -1;
    switch (this.state) {
      case 'first':
        return this.firstPacket(first);
      case 'columns':
        return this.columnDone();
      case 'columns_eof':
        if (first !== EOF_HEADER || this.packetLength >= EOF_MAX_LENGTH) {
          throw new ProtocolError('expected EOF after the column definitions');
        }
        // An execute that opened a cursor ends here; its rows come with COM_STMT_FETCH.
        if (this.eofStatus() & SERVER_STATUS_CURSOR_EXISTS) return this.resultDone(this.eofStatus());
        this.state = 'rows';
        return;
      case 'rows':
        if (first === ERR_HEADER) return this.errPacket();
        if (first === EOF_HEADER && (this.deprecateEof || this.packetLength < EOF_MAX_LENGTH)) {
          return this.resultDone(this.deprecateEof ? this.okStatus() : this.eofStatus());
        }
        return;
    }
  }

  private columnDone(): void {
    if (--this.columnsLeft === 0) this.state = this.deprecateEof ? 'rows' : 'columns_eof';
  }

  private firstPacket(first: number): void {
    if (first === OK_HEADER) return this.resultDone(this.okStatus());
    if (first === ERR_HEADER) return this.errPacket();
    if (first === LOCAL_INFILE_HEADER) {
      // The client answers with its file; the server's OK or ERR after it ends the reply.
      this.infile = true;
      return;
    }
    const count = this.lenenc(0, 'column count');
    if (count === 0) throw new ProtocolError('column count of 0');
    const size = this.lenencSize;
    let metadataFollows = true;
    if (this.cachedMetadata && this.packetLength > size) metadataFollows = this.head[this.headAt + size] !== 0;
    this.columnsLeft = count;
    this.state = metadataFollows ? 'columns' : this.deprecateEof ? 'rows' : 'columns_eof';
  }

  private errPacket(): void {
    if (this.progress && this.packetLength >= 3 && this.head.readUInt16LE(this.headAt + 1) === PROGRESS_REPORT_ERROR_CODE) return;
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
    if (this.watcher && this.swallow.shift()) {
      this.swallowing--;
      // The proxy's own command: its status is the connection's, but the client is told nothing.
      if (!failed) return;
      throw new ProtocolError('a command the proxy sent for itself failed');
    }
    this.onReply(end);
  }

  /** Whether a packet starting with `first` is an OK to read whole (one that may carry session state). */
  private okWanted(first: number): boolean {
    if (this.packetLength === MAX_PAYLOAD_LENGTH) return false;
    if (this.state === 'first') return first === OK_HEADER;
    return this.state === 'rows' && this.deprecateEof && first === EOF_HEADER;
  }

  private okBytes(chunk: Buffer, start: number, end: number): void {
    if (this.okFill === 0) {
      this.okBuf = chunk;
      this.okAt = start;
      this.okFill = end - start;
      return;
    }
    if (this.okBuf === chunk && this.okAt + this.okFill === start) {
      this.okFill += end - start; // the rest of the same chunk (see FrameScanner.wantRest)
      return;
    }
    if (this.okBuf !== this.okCopy) this.copyOk(this.okAt, this.okFill);
    const need = this.okFill + (end - start);
    if (this.okBuf.length < need) {
      const grown = Buffer.allocUnsafe(Math.max(need, 2 * this.okBuf.length));
      this.okBuf.copy(grown, 0, 0, this.okFill);
      this.okBuf = this.okCopy = grown;
    }
    chunk.copy(this.okBuf, this.okFill, start, end);
    this.okFill = need;
  }

  /** The OK seen so far into the tracker's own bytes: its chunk is gone after this push. */
  private copyOk(at: number, fill: number): void {
    let copy = this.okCopy;
    if (!copy || copy.length < Math.max(fill, this.packetLength)) copy = this.okCopy = Buffer.allocUnsafe(Math.max(64, this.packetLength));
    this.okBuf.copy(copy, 0, at, at + fill);
    this.okBuf = copy;
    this.okAt = 0;
  }

  /** A whole OK: its session state to the watcher; for a client that does not track, the OK it should get instead (or null). */
  private readOk(swallowed: boolean): Buffer | null {
    this.okWhole = false;
    const buf = this.okBuf;
    const start = this.okAt;
    const end = start + this.okFill;
    this.okBuf = EMPTY;
    if (this.okFill !== this.packetLength) throw new ProtocolError('OK packet read short');
    const { stateAt } = okLayout(buf, start, end);
    if (stateAt < 0) return null;
    this.watcher!.onSessionState(buf, start, end, stateAt, swallowed);
    return this.watcher!.strip && !swallowed ? withoutSessionState(buf, start, end) : null;
  }

  private packetStarts(headerAt: number): void {
    this.inPacket = true;
    if (headerAt >= 0 && this.held) this.release(); // a header cut short that began no packet of ours
    this.packetAt = headerAt;
  }

  /** The packet in chunk[packetAt or earlier, end) is whole: it goes on, is replaced, or is dropped. */
  private packetEnds(chunk: Buffer, end: number, sequenceId: number, swallowed: boolean, replacement: Buffer | null): void {
    this.inPacket = false;
    if (!swallowed && replacement === null) {
      if (this.held) this.release();
      return;
    }
    // Up to the packet's start goes on; the packet itself (held parts included) does not.
    const out = (this.output ??= []);
    const start = this.packetAt >= 0 ? this.packetAt : 0;
    if (this.packetAt >= 0 && this.held) this.release();
    this.held = null;
    if (start > this.sentTo) out.push(chunk.subarray(this.sentTo, start));
    if (replacement) out.push(framePacket(replacement, sequenceId));
    this.sentTo = end;
  }

  /** After a chunk: what it sends, and what of it waits for the next one. */
  private chunkDone(chunk: Buffer): void {
    let keepFrom = chunk.length;
    if (this.swallowing > 0 || this.watcher!.strip) {
      // Held: a packet that may yet be dropped or rewritten (its first byte unseen, an OK, the proxy's own), or a header cut short.
      if (this.inPacket && (this.headFill === 0 || this.okWhole || this.swallow[0] === true)) {
        keepFrom = this.packetAt >= 0 ? this.packetAt : this.sentTo;
      } else if (!this.inPacket && this.scanner.partialHeader > 0) {
        keepFrom = chunk.length - this.scanner.partialHeader;
      }
    }
    if (keepFrom === chunk.length && this.held) this.release();
    if (this.output === null && this.sentTo === 0 && keepFrom === chunk.length) return;
    const out = (this.output ??= []);
    if (keepFrom > this.sentTo) out.push(chunk.subarray(this.sentTo, keepFrom));
    if (keepFrom < chunk.length) (this.held ??= []).push(chunk.subarray(Math.max(keepFrom, this.sentTo)));
  }

  /** Held bytes turned out to go on as they are: before anything of the current chunk. */
  private release(): void {
    const held = this.held!;
    this.held = null;
    const out = (this.output ??= []);
    for (const piece of held) out.push(piece);
  }

  /** Status flags of an OK packet (header 0x00 or 0xfe) from its head. */
  private okStatus(): number {
    this.lenenc(1, 'affected rows');
    const affectedSize = this.lenencSize;
    this.lenenc(1 + affectedSize, 'last insert id');
    const at = 1 + affectedSize + this.lenencSize;
    if (at + 2 > Math.min(this.packetLength, HEAD_LENGTH)) throw new ProtocolError('OK packet too short for its status');
    return this.head.readUInt16LE(this.headAt + at);
  }

  /** Status flags of an EOF packet: header, warnings, status. */
  private eofStatus(): number {
    if (this.packetLength < 5) throw new ProtocolError('EOF packet too short for its status');
    return this.head.readUInt16LE(this.headAt + 3);
  }

  /**
   * A length-encoded integer at `at` in the head; its size goes to lenencSize (no
   * object per call: this runs for every OK). Values beyond 2^53 are not counts we meet.
   */
  private lenenc(at: number, what: string): number {
    const limit = Math.min(this.packetLength, HEAD_LENGTH);
    if (at >= limit) throw new ProtocolError(`${what}: packet too short`);
    const head = this.head;
    const i = this.headAt + at;
    const b = head[i]!;
    const size = b < 0xfb ? 1 : b === 0xfc ? 3 : b === 0xfd ? 4 : b === 0xfe ? 9 : 0;
    if (size === 0) throw new ProtocolError(`${what}: invalid length-encoded integer 0x${b.toString(16)}`);
    if (at + size > limit) throw new ProtocolError(`${what}: packet too short`);
    this.lenencSize = size;
    if (size === 1) return b;
    return size === 9 ? Number(head.readBigUInt64LE(i + 1)) : head.readUIntLE(i + 1, size - 1);
  }
}

const EMPTY = Buffer.alloc(0);
