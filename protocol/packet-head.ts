// Server -> Client: the first bytes of the packet a reply tracker is reading, which are
// all that decide what it is (OK, ERR, EOF, a column count) and what its status says.
// They are a view into the chunk they arrived in when they arrived in one piece (the
// usual case, nothing copied), else copied across chunks into the head's own bytes.
// Rows and column definitions behind them are never looked at.
import { ProtocolError } from './protocol-error.js';

/** Longest OK prefix that holds the status: header, two 9-byte lenencs, status. */
export const HEAD_LENGTH = 21;

const EMPTY = Buffer.alloc(0);

export class PacketHead {
  /** The packet's first fragment's length: 0xffffff for a packet that continues (a large row). */
  length = 0;
  /** Where its first bytes are: [at, at + fill) of `buf`. */
  buf: Buffer = EMPTY;
  at = 0;
  fill = 0;
  /** Made on the first packet whose head is split across chunks. */
  private copied: Buffer | null = null;
  /** Size of the last length-encoded integer read by lenenc(). */
  lenencSize = 0;

  /** A packet of `length` bytes (its first fragment's) starts. */
  start(length: number): void {
    this.length = length;
    this.fill = 0;
  }

  /** Payload bytes chunk[start, end) of the packet: the head takes what it still lacks. */
  take(chunk: Buffer, start: number, end: number): void {
    const want = Math.min(this.length, HEAD_LENGTH);
    if (this.fill === 0) {
      if (end - start >= want) {
        this.buf = chunk;
        this.at = start;
        this.fill = want;
        return;
      }
      this.buf = this.copied ??= Buffer.alloc(HEAD_LENGTH);
      this.at = 0;
    }
    const head = this.buf;
    const take = Math.min(want - this.fill, end - start);
    // At most 21 bytes: a loop, not Buffer#copy (which makes a view of the source per call).
    for (let i = 0; i < take; i++) head[this.fill + i] = chunk[start + i]!;
    this.fill += take;
  }

  /** The chunk `chunk` is done with: a head still seen in it goes into the head's own bytes. */
  keep(chunk: Buffer): void {
    if (this.buf !== chunk) return;
    const copied = (this.copied ??= Buffer.alloc(HEAD_LENGTH));
    for (let i = 0; i < this.fill; i++) copied[i] = this.buf[this.at + i]!;
    this.buf = copied;
    this.at = 0;
  }

  /** The packet ended: let go of its chunk (an idle tracker should not keep the last read alive). */
  clear(): void {
    this.buf = EMPTY;
  }

  /** The packet's first byte, -1 for an empty packet. */
  first(): number {
    return this.length > 0 ? this.buf[this.at]! : -1;
  }

  /** The byte at `i` of the head (within it: the caller checked the length). */
  byte(i: number): number {
    return this.buf[this.at + i]!;
  }

  /** The little-endian 16-bit number at `i` of the head. */
  uint16(i: number): number {
    return this.buf.readUInt16LE(this.at + i);
  }

  /** Status flags of an OK packet (header 0x00 or 0xfe) from its head. */
  okStatus(): number {
    this.lenenc(1, 'affected rows');
    const affectedSize = this.lenencSize;
    this.lenenc(1 + affectedSize, 'last insert id');
    const at = 1 + affectedSize + this.lenencSize;
    if (at + 2 > Math.min(this.length, HEAD_LENGTH)) throw new ProtocolError('OK packet too short for its status');
    return this.uint16(at);
  }

  /** Status flags of an EOF packet: header, warnings, status. */
  eofStatus(): number {
    if (this.length < 5) throw new ProtocolError('EOF packet too short for its status');
    return this.uint16(3);
  }

  /**
   * A length-encoded integer at `at` in the head; its size goes to lenencSize (no
   * object per call: this runs for every OK). Values beyond 2^53 are not counts we meet.
   */
  lenenc(at: number, what: string): number {
    const limit = Math.min(this.length, HEAD_LENGTH);
    if (at >= limit) throw new ProtocolError(`${what}: packet too short`);
    const head = this.buf;
    const i = this.at + at;
    const b = head[i]!;
    const size = b < 0xfb ? 1 : b === 0xfc ? 3 : b === 0xfd ? 4 : b === 0xfe ? 9 : 0;
    if (size === 0) throw new ProtocolError(`${what}: invalid length-encoded integer 0x${b.toString(16)}`);
    if (at + size > limit) throw new ProtocolError(`${what}: packet too short`);
    this.lenencSize = size;
    if (size === 1) return b;
    return size === 9 ? Number(head.readBigUInt64LE(i + 1)) : head.readUIntLE(i + 1, size - 1);
  }
}
