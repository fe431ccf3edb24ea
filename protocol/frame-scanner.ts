// The one place that reads MySQL packet framing out of a byte stream, in both
// directions, because the wire format is the same both ways:
// - client -> server: the session relay's command tracker, the transaction relay's
//   framer, the packet channel reading a client's handshake;
// - server -> client: the transaction relay's reply tracker, the packet channel
//   reading a compute's greeting and login, and the proxy's own queries on it.
//
// Every fragment starts with a 4-byte header: a 3-byte little-endian payload length
// and a sequence id. A fragment of 0xffffff bytes does not end its packet: the next
// fragment continues it with the next sequence id, and a packet whose length is an
// exact multiple of 0xffffff ends with an empty fragment. The scanner joins that into
// logical packets and tells a sink where each starts, which bytes are its payload and
// where it ends; the sink decides what to keep. Bytes are passed as (chunk, start, end)
// ranges of the caller's chunk, so a sink that only counts or peeks copies nothing.
//
// A sink may stop the scan right after a packet. Bytes behind it are then not the
// scanner's: in the handshake a TLS ClientHello can follow an SSLRequest in the same
// chunk and must reach the TLS layer untouched, and after a client's COM_QUIT nothing
// is read at all.
//
// A scanner holds a few numbers (the header is accumulated in one, not a Buffer):
// thousands of sessions each keep one per direction they watch.
import { ProtocolError } from './protocol-error.js';

/** Largest payload one wire fragment can carry; a logical packet this long or longer continues. */
export const MAX_PAYLOAD_LENGTH = 0xffffff;

/** Size of the header in front of every fragment: 3-byte length + 1-byte sequence id. */
export const PACKET_HEADER_LENGTH = 4;

/** What onPacketStart returns to see a packet's whole payload. */
export const WHOLE_PAYLOAD = -1;

/**
 * What a reader of the stream implements. One sink object per scanner, its methods
 * called in order for each logical packet: start, payload ranges (only as many bytes
 * as the start asked for), end.
 */
export interface FrameSink {
  /**
   * A logical packet starts. `length` is its first fragment's (0xffffff: more follow);
   * `headerAt` is where its header began in the chunk being scanned, or -1 when the
   * header began in an earlier chunk. Returns how many of its first payload bytes the
   * sink wants to see, or WHOLE_PAYLOAD; the rest are skipped without a call, so a
   * tracker that decides on a packet's first bytes pays nothing for a 1 MiB row.
   */
  onPacketStart(length: number, sequenceId: number, headerAt: number): number;
  /** Payload bytes chunk[start, end) of the current packet, continuations included; never empty. */
  onPayload(chunk: Buffer, start: number, end: number): void;
  /**
   * The packet ended at chunk offset `end`; `sequenceId` is its last fragment's.
   * Returning true stops the scan there, leaving the rest of the chunk unread.
   */
  onPacketEnd(chunk: Buffer, end: number, sequenceId: number): boolean;
}

export class FrameScanner {
  /** Header bytes so far, little-endian in one number. */
  private header = 0;
  private headerFill = 0;
  /** Payload bytes still expected in the current fragment; -1 while reading a header. */
  private fragmentLeft = -1;
  /** The current fragment is 0xffffff bytes: the packet goes on in the next one. */
  private continues = false;
  /** Payload bytes the current packet's headers announced so far. */
  private packetLength = 0;
  /** Sequence id of the last fragment header read. */
  private sequenceId = 0;
  /** Payload bytes of the current packet the sink still wants to see; WHOLE_PAYLOAD: all. */
  private wanted = 0;

  /**
   * `maxPacketSize` bounds a logical packet, continuations included; it is checked at
   * each fragment header, so an oversized packet fails before its body arrives.
   */
  constructor(
    private readonly sink: FrameSink,
    private readonly maxPacketSize = Number.POSITIVE_INFINITY,
  ) {}

  /** Between packets: no header, payload or continuation partly read. */
  get atBoundary(): boolean {
    return this.headerFill === 0 && this.fragmentLeft < 0 && !this.continues;
  }

  /** Bytes of a header read so far (0-3): the tail of the last chunk when it ended inside one. */
  get partialHeader(): number {
    return this.headerFill;
  }

  /**
   * Reads chunk[from..] and returns where it stopped: chunk.length, or the end of the
   * packet after which the sink asked to stop. Throws ProtocolError on a continuation
   * out of sequence or a packet over the limit; the stream is then out of step and the
   * scanner must be discarded with its connection.
   */
  scan(chunk: Buffer, from = 0): number {
    // Most reads of a large packet fall inside a payload nobody wants to see: kept small
    // so it inlines into the caller.
    const left = this.fragmentLeft - (chunk.length - from);
    if (left > 0 && this.wanted === 0) {
      this.fragmentLeft = left;
      return chunk.length;
    }
    return this.scanFrom(chunk, from);
  }

  private scanFrom(chunk: Buffer, from: number): number {
    const sink = this.sink;
    const end = chunk.length;
    let pos = from;
    while (pos < end) {
      if (this.fragmentLeft < 0) {
        let headerAt = -1;
        if (this.headerFill === 0 && end - pos >= PACKET_HEADER_LENGTH) {
          headerAt = pos;
          this.header = chunk[pos]! | (chunk[pos + 1]! << 8) | (chunk[pos + 2]! << 16) | (chunk[pos + 3]! << 24);
          pos += PACKET_HEADER_LENGTH;
        } else {
          // Split across chunks: it began in an earlier one, so headerAt stays -1.
          while (this.headerFill < PACKET_HEADER_LENGTH && pos < end) {
            this.header |= chunk[pos++]! << (8 * this.headerFill++);
          }
          if (this.headerFill < PACKET_HEADER_LENGTH) return end;
          this.headerFill = 0;
        }
        this.startFragment(headerAt);
      }
      if (this.fragmentLeft > 0) {
        const n = Math.min(this.fragmentLeft, end - pos);
        if (n === 0) return end;
        const wanted = this.wanted;
        if (wanted < 0) {
          sink.onPayload(chunk, pos, pos + n);
        } else if (wanted > 0) {
          const m = n < wanted ? n : wanted;
          this.wanted = wanted - m;
          sink.onPayload(chunk, pos, pos + m);
          // The sink saw enough to want the rest (wantRest()): it follows in this chunk too.
          if (this.wanted < 0 && m < n) sink.onPayload(chunk, pos + m, pos + n);
        }
        pos += n;
        this.fragmentLeft -= n;
        if (this.fragmentLeft > 0) return end;
      }
      this.fragmentLeft = -1;
      if (!this.continues && sink.onPacketEnd(chunk, pos, this.sequenceId)) return pos;
    }
    return end;
  }

  /**
   * The stream ended here (the peer closed, or the caller stops reading). Throws
   * ProtocolError if it ended inside a packet.
   */
  end(what: string): void {
    if (this.atBoundary) return;
    const where = this.headerFill > 0 ? `${this.headerFill} bytes into a header` : 'inside a packet';
    throw new ProtocolError(`${what} ended ${where}`);
  }

  /**
   * Called by the sink from onPayload: it wants the current packet's whole payload after
   * all (its first bytes said so: an OK whose session state must be read).
   */
  wantRest(): void {
    if (this.wanted >= 0) this.wanted = WHOLE_PAYLOAD;
  }

  /** Forget the packet being read: the caller took its bytes elsewhere (a byte pipe). */
  reset(): void {
    this.header = 0;
    this.headerFill = 0;
    this.fragmentLeft = -1;
    this.continues = false;
    this.packetLength = 0;
    this.wanted = 0;
  }

  private startFragment(headerAt: number): void {
    const header = this.header;
    this.header = 0;
    const length = header & MAX_PAYLOAD_LENGTH;
    const sequenceId = header >>> 24;
    const first = !this.continues;
    if (first) {
      this.packetLength = length;
    } else {
      const expected = (this.sequenceId + 1) & 0xff;
      if (sequenceId !== expected) {
        throw new ProtocolError(`continuation packet has sequence id ${sequenceId}, expected ${expected}`);
      }
      this.packetLength += length;
    }
    if (this.packetLength > this.maxPacketSize) {
      throw new ProtocolError(`packet of ${this.packetLength} bytes exceeds max_packet_size ${this.maxPacketSize}`);
    }
    this.sequenceId = sequenceId;
    this.continues = length === MAX_PAYLOAD_LENGTH;
    this.fragmentLeft = length;
    if (first) this.wanted = this.sink.onPacketStart(length, sequenceId, headerAt);
  }
}
