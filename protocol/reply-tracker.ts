// Server -> Client: where each reply to a text-protocol command ends, found in the byte
// stream as it is relayed, without copying it. Transaction pooling needs exactly this:
// a backend may go back to the pool only between replies, and only when the status
// flags of the last one say no transaction is open.
//
// A reply is an OK, an ERR, a LOCAL INFILE request followed (after the client's file)
// by an OK or ERR, or a result set; a status with SERVER_MORE_RESULTS_EXISTS chains
// another result into the same reply (multi-statements, CALL). Only packet headers and
// the first bytes of the few packets that decide something (OK, EOF, ERR, column count)
// are looked at; rows and column definitions are counted and skipped.
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
} from './constants.js';
import { MAX_PAYLOAD_LENGTH, PACKET_HEADER_LENGTH } from './framing.js';
import { PROGRESS_REPORT_ERROR_CODE } from './packets/err-packet.js';
import { ProtocolError } from './protocol-error.js';

export interface ReplyEnd {
  /** Status flags of the reply's last OK or EOF; for an ERR, those of the last status seen before. */
  statusFlags: number;
  /** Some result of the reply had SERVER_SESSION_STATE_CHANGED (needs CLIENT_SESSION_TRACK). */
  stateChanged: boolean;
  failed: boolean;
}

type State = 'first' | 'columns' | 'columns_eof' | 'rows';

/** Longest OK prefix that holds the status: header, two 9-byte lenencs, status. */
const HEAD_LENGTH = 21;
/** An EOF packet is shorter than this; a row starting with 0xfe is not. */
const EOF_MAX_LENGTH = 9;

export class ReplyTracker {
  private readonly deprecateEof: boolean;
  private readonly cachedMetadata: boolean;
  private readonly progress: boolean;
  private pendingReplies = 0;
  private state: State = 'first';
  private columnsLeft = 0;
  private stateChanged = false;
  private lastStatus: number;
  private infile = false;
  // The packet being read.
  /** Header bytes so far, little-endian in one number. */
  private header = 0;
  private headerFill = 0;
  /** Payload bytes left in the current fragment; -1 while reading a header. */
  private fragmentLeft = -1;
  private packetLength = 0;
  /** The packet continues a full (0xffffff) fragment: a large row, nothing to decide. */
  private continuation = false;
  private nextContinues = false;
  // From the shared allocation pool: a tracker is made per borrowed backend.
  private readonly head = Buffer.allocUnsafe(HEAD_LENGTH);
  private headFill = 0;

  /**
   * `capabilities`/`mariadbCapabilities` as negotiated on the connection; `initialStatus`
   * is what the connection's status is known to be before the first reply.
   */
  constructor(
    capabilities: number,
    mariadbCapabilities: number,
    initialStatus: number,
    private readonly onReply: (end: ReplyEnd) => void,
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

  /** A command went to the server: one more reply to wait for. */
  expect(): void {
    this.pendingReplies++;
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
    let pos = 0;
    while (pos < chunk.length) {
      if (this.fragmentLeft < 0) {
        while (this.headerFill < PACKET_HEADER_LENGTH && pos < chunk.length) {
          this.header |= chunk[pos++]! << (8 * this.headerFill++);
        }
        if (this.headerFill < PACKET_HEADER_LENGTH) return;
        this.startFragment();
        continue;
      }
      const n = Math.min(this.fragmentLeft, chunk.length - pos);
      if (!this.continuation && this.headFill < HEAD_LENGTH && n > 0) {
        const take = Math.min(HEAD_LENGTH - this.headFill, n);
        chunk.copy(this.head, this.headFill, pos, pos + take);
        this.headFill += take;
      }
      this.fragmentLeft -= n;
      pos += n;
      if (this.fragmentLeft > 0) return;
      this.fragmentLeft = -1;
      if (this.nextContinues) {
        // The packet goes on in the next fragment; only its start matters, and that was a row.
        this.continuation = true;
        continue;
      }
      if (!this.continuation) this.packetDone();
      this.continuation = false;
      this.headFill = 0;
    }
  }

  private startFragment(): void {
    const length = this.header & MAX_PAYLOAD_LENGTH;
    this.header = 0;
    this.headerFill = 0;
    if (!this.continuation) {
      if (this.pendingReplies === 0) {
        throw new ProtocolError(`server sent a ${length}-byte packet while no reply was pending`);
      }
      this.packetLength = length;
      if (length === MAX_PAYLOAD_LENGTH) this.checkLargePacket();
    }
    this.nextContinues = length === MAX_PAYLOAD_LENGTH;
    this.fragmentLeft = length;
    if (length === 0 && !this.continuation && !this.nextContinues) {
      this.fragmentLeft = -1;
      this.packetDone();
    } else if (length === 0) {
      // An empty fragment ends a packet that was an exact multiple of 0xffffff.
      this.fragmentLeft = -1;
      this.continuation = false;
      this.headFill = 0;
    }
  }

  /** Only rows and column definitions can be 16 MiB; anything else that long is garbage. */
  private checkLargePacket(): void {
    if (this.state !== 'rows' && this.state !== 'columns') {
      throw new ProtocolError(`server sent a ${MAX_PAYLOAD_LENGTH}-byte packet where a reply starts`);
    }
  }

  private packetDone(): void {
    const first = this.packetLength > 0 ? this.head[0]! : -1;
    switch (this.state) {
      case 'first':
        return this.firstPacket(first);
      case 'columns':
        if (--this.columnsLeft === 0) this.state = this.deprecateEof ? 'rows' : 'columns_eof';
        return;
      case 'columns_eof':
        if (first !== EOF_HEADER || this.packetLength >= EOF_MAX_LENGTH) {
          throw new ProtocolError('expected EOF after the column definitions');
        }
        this.state = 'rows';
        return;
      case 'rows':
        if (first === ERR_HEADER) return this.errPacket();
        if (first === EOF_HEADER && (this.deprecateEof || this.packetLength < EOF_MAX_LENGTH)) {
          return this.resultDone(this.deprecateEof ? this.okStatus() : this.head.readUInt16LE(3));
        }
        return;
    }
  }

  private firstPacket(first: number): void {
    if (first === OK_HEADER) return this.resultDone(this.okStatus());
    if (first === ERR_HEADER) return this.errPacket();
    if (first === LOCAL_INFILE_HEADER) {
      // The client answers with its file; the server's OK or ERR after it ends the reply.
      this.infile = true;
      return;
    }
    const { value, size } = this.lenenc(0, 'column count');
    if (value === 0) throw new ProtocolError('column count of 0');
    let metadataFollows = true;
    if (this.cachedMetadata && this.packetLength > size) metadataFollows = this.head[size] !== 0;
    this.columnsLeft = value;
    this.state = metadataFollows ? 'columns' : this.deprecateEof ? 'rows' : 'columns_eof';
  }

  private errPacket(): void {
    if (this.progress && this.packetLength >= 3 && this.head.readUInt16LE(1) === PROGRESS_REPORT_ERROR_CODE) return;
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
    this.stateChanged = false;
    this.infile = false;
    this.pendingReplies--;
    this.onReply(end);
  }

  /** Status flags of an OK packet (header 0x00 or 0xfe) from its head. */
  private okStatus(): number {
    const affected = this.lenenc(1, 'affected rows');
    const insertId = this.lenenc(1 + affected.size, 'last insert id');
    const at = 1 + affected.size + insertId.size;
    if (at + 2 > Math.min(this.packetLength, HEAD_LENGTH)) throw new ProtocolError('OK packet too short for its status');
    return this.head.readUInt16LE(at);
  }

  /** A length-encoded integer in the head; values beyond 2^53 are not counts we meet. */
  private lenenc(at: number, what: string): { value: number; size: number } {
    const limit = Math.min(this.packetLength, HEAD_LENGTH);
    if (at >= limit) throw new ProtocolError(`${what}: packet too short`);
    const b = this.head[at]!;
    const size = b < 0xfb ? 1 : b === 0xfc ? 3 : b === 0xfd ? 4 : b === 0xfe ? 9 : 0;
    if (size === 0) throw new ProtocolError(`${what}: invalid length-encoded integer 0x${b.toString(16)}`);
    if (at + size > limit) throw new ProtocolError(`${what}: packet too short`);
    if (size === 1) return { value: b, size };
    const value = size === 9 ? Number(this.head.readBigUInt64LE(at + 1)) : this.head.readUIntLE(at + 1, size - 1);
    return { value, size };
  }
}
