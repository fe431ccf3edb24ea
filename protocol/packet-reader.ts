import { ProtocolError } from './protocol-error.js';

/**
 * Bounds-checked cursor over one packet payload. Payloads come from untrusted peers,
 * so every read checks what is left first and fails with a ProtocolError naming the
 * field; nothing here can throw a RangeError or scan past the end of the buffer.
 *
 * `label` (optional, an addition to the base API) prefixes messages with the packet
 * name, e.g. "HandshakeResponse41: truncated reading user".
 */
export class PacketReader {
  readonly buffer: Buffer;
  offset: number;
  readonly label: string | undefined;

  constructor(buf: Buffer, offset = 0, label?: string) {
    if (!Number.isInteger(offset) || offset < 0 || offset > buf.length) {
      const prefix = label ? `${label}: ` : '';
      throw new ProtocolError(`${prefix}reader offset ${offset} outside a ${buf.length}-byte buffer`);
    }
    this.buffer = buf;
    this.offset = offset;
    this.label = label;
  }

  get remaining(): number {
    return this.buffer.length - this.offset;
  }

  /** A ProtocolError prefixed with this reader's packet label, for callers' own checks. */
  error(message: string): ProtocolError {
    return new ProtocolError(this.label ? `${this.label}: ${message}` : message);
  }

  private need(n: number, what: string): void {
    if (n > this.buffer.length - this.offset) throw this.error(`truncated reading ${what}`);
  }

  u8(what: string): number {
    this.need(1, what);
    return this.buffer[this.offset++]!;
  }

  u16(what: string): number {
    this.need(2, what);
    const v = this.buffer.readUInt16LE(this.offset);
    this.offset += 2;
    return v;
  }

  u24(what: string): number {
    this.need(3, what);
    const v = this.buffer.readUIntLE(this.offset, 3);
    this.offset += 3;
    return v;
  }

  u32(what: string): number {
    this.need(4, what);
    const v = this.buffer.readUInt32LE(this.offset);
    this.offset += 4;
    return v;
  }

  u64(what: string): bigint {
    this.need(8, what);
    const v = this.buffer.readBigUInt64LE(this.offset);
    this.offset += 8;
    return v;
  }

  /**
   * Length-encoded integer. 0xfb (SQL NULL in rows) and 0xff (an ERR header) are not
   * integers; values past 2^53 cannot be lengths of anything we could hold.
   */
  lenencInt(what: string): number {
    const first = this.u8(what);
    if (first < 0xfb) return first;
    switch (first) {
      case 0xfc:
        return this.u16(what);
      case 0xfd:
        return this.u24(what);
      case 0xfe: {
        const v = this.u64(what);
        if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw this.error(`${what} ${v} is too large`);
        return Number(v);
      }
      case 0xfb:
        throw this.error(`unexpected NULL reading ${what}`);
      default:
        throw this.error(`invalid length-encoded integer prefix 0x${first.toString(16)} reading ${what}`);
    }
  }

  /** A view into the payload, not a copy: keep it only as long as the payload. */
  bytes(n: number, what: string): Buffer {
    const at = this.advance(n, what);
    return this.buffer.subarray(at, at + n);
  }

  /**
   * The next n bytes in a Buffer of their own (a login's auth response outlives the
   * payload). Small ones are copied byte by byte: a view to copy from costs more.
   */
  copy(n: number, what: string): Buffer {
    const at = this.advance(n, what);
    if (n > 64) return Buffer.from(this.buffer.subarray(at, at + n));
    const out = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) out[i] = this.buffer[at + i]!;
    return out;
  }

  nulBytes(what: string): Buffer {
    const end = this.nulEnd(what);
    const out = this.buffer.subarray(this.offset, end);
    this.offset = end + 1;
    return out;
  }

  /** Skips a NUL-terminated field and returns where it ends (the NUL's index); it starts at the offset before. */
  nulField(what: string): number {
    const end = this.nulEnd(what);
    this.offset = end + 1;
    return end;
  }

  nulString(what: string): string {
    // Decoded in place: a view of the bytes first would cost about as much as the decoding.
    const end = this.nulEnd(what);
    const out = this.buffer.toString('utf8', this.offset, end);
    this.offset = end + 1;
    return out;
  }

  lenencBytes(what: string): Buffer {
    return this.bytes(this.lenencInt(what), what);
  }

  lenencString(what: string): string {
    const n = this.lenencInt(what);
    const at = this.advance(n, what);
    return this.buffer.toString('utf8', at, at + n);
  }

  rest(): Buffer {
    const out = this.buffer.subarray(this.offset);
    this.offset = this.buffer.length;
    return out;
  }

  restString(): string {
    return this.rest().toString('utf8');
  }

  skip(n: number, what: string): void {
    this.advance(n, what);
  }

  /** Steps over a length-encoded string, checked, without reading it. */
  skipLenenc(what: string): void {
    this.advance(this.lenencInt(what), what);
  }

  /** Moves past n bytes, checked; returns where they start. */
  private advance(n: number, what: string): number {
    if (!Number.isInteger(n) || n < 0) throw this.error(`invalid length ${n} reading ${what}`);
    this.need(n, what);
    const at = this.offset;
    this.offset += n;
    return at;
  }

  /** Where the NUL that ends a string at the offset is. */
  private nulEnd(what: string): number {
    // indexOf on the buffer itself stops at its end, so a missing NUL cannot make us
    // read beyond the payload or loop.
    const end = this.buffer.indexOf(0, this.offset);
    if (end < 0) throw this.error(`truncated reading ${what} (no NUL terminator)`);
    return end;
  }
}
