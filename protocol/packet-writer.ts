import { ProtocolError } from './protocol-error.js';

/** One past the largest value of 0-4 bytes (a power computed per call showed in profiles). */
const LIMITS = [1, 0x100, 0x10000, 0x1000000, 0x100000000];

/**
 * Growable little-endian payload builder. Strings are measured in bytes, never with
 * `string.length`, so multi-byte UTF-8 names get correct length prefixes. Values that
 * do not fit their field throw a ProtocolError rather than being silently truncated.
 */
export class PacketWriter {
  private buf: Buffer;
  private len = 0;

  constructor(initialCapacity = 256) {
    this.buf = Buffer.allocUnsafe(Math.max(16, initialCapacity));
  }

  get length(): number {
    return this.len;
  }

  /** The bytes written so far (no header). A view: later writes do not change it. */
  payload(): Buffer {
    return this.buf.subarray(0, this.len);
  }

  /**
   * Makes room for n more bytes and returns where they start. It may replace this.buf,
   * so callers must call it before reading this.buf for the write.
   */
  private reserve(n: number): number {
    const at = this.len;
    const needed = at + n;
    if (needed > this.buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(needed, this.buf.length * 2));
      this.buf.copy(grown, 0, 0, at);
      this.buf = grown;
    }
    this.len = needed;
    return at;
  }

  private uint(n: number, bytes: number, name: string): this {
    if (!Number.isInteger(n) || n < 0 || n >= LIMITS[bytes]!) {
      throw new ProtocolError(`${name} value ${n} out of range`);
    }
    const at = this.reserve(bytes);
    // By hand: every packet the proxy builds writes a few of these, and writeUIntLE's generic path showed in profiles.
    const b = this.buf;
    b[at] = n;
    if (bytes > 1) b[at + 1] = n >>> 8;
    if (bytes > 2) b[at + 2] = n >>> 16;
    if (bytes > 3) b[at + 3] = n >>> 24;
    return this;
  }

  u8(n: number): this {
    return this.uint(n, 1, 'u8');
  }

  u16(n: number): this {
    return this.uint(n, 2, 'u16');
  }

  u24(n: number): this {
    return this.uint(n, 3, 'u24');
  }

  u32(n: number): this {
    return this.uint(n, 4, 'u32');
  }

  lenencInt(n: number): this {
    if (!Number.isSafeInteger(n) || n < 0) {
      throw new ProtocolError(`length-encoded integer value ${n} out of range`);
    }
    if (n < 0xfb) return this.u8(n);
    if (n < 0x10000) return this.u8(0xfc).u16(n);
    if (n < 0x1000000) return this.u8(0xfd).u24(n);
    this.u8(0xfe);
    const at = this.reserve(8);
    this.buf.writeBigUInt64LE(BigInt(n), at);
    return this;
  }

  bytes(b: Buffer | Uint8Array): this {
    const at = this.reserve(b.length);
    this.buf.set(b, at);
    return this;
  }

  zeros(n: number): this {
    if (!Number.isInteger(n) || n < 0) throw new ProtocolError(`zero fill of ${n} bytes`);
    const at = this.reserve(n);
    this.buf.fill(0, at, at + n);
    return this;
  }

  /** Fails on an embedded NUL: the peer would read a shorter string and misparse the rest. */
  nulString(s: string | Buffer): this {
    const b = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
    if (b.includes(0)) throw new ProtocolError('NUL-terminated string contains a NUL byte');
    return this.bytes(b).u8(0);
  }

  lenencString(s: string | Buffer): this {
    if (typeof s !== 'string') return this.lenencInt(s.length).bytes(s);
    const n = Buffer.byteLength(s, 'utf8');
    return this.lenencInt(n).string(s);
  }

  string(s: string): this {
    const n = Buffer.byteLength(s, 'utf8');
    const at = this.reserve(n);
    this.buf.write(s, at, n, 'utf8');
    return this;
  }
}
