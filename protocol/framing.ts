import { FrameScanner, MAX_PAYLOAD_LENGTH, PACKET_HEADER_LENGTH, WHOLE_PAYLOAD, type FrameSink } from './frame-scanner.js';
import { ProtocolError } from './protocol-error.js';

export { MAX_PAYLOAD_LENGTH, PACKET_HEADER_LENGTH };

/** A logical packet: continuation fragments already joined. */
export interface Packet {
  /** Sequence id of the last fragment, so the reply continues from it. */
  sequenceId: number;
  payload: Buffer;
}

/**
 * Frames one logical packet. A payload of 0xffffff bytes or more is cut into full
 * fragments followed by a shorter one; when the length is an exact multiple the reader
 * needs an empty fragment to know the packet ended.
 */
export function framePacket(payload: Buffer, sequenceId: number): Buffer {
  if (!Number.isInteger(sequenceId) || sequenceId < 0 || sequenceId > 0xff) {
    throw new ProtocolError(`sequence id ${sequenceId} out of range`);
  }
  const fragments = Math.floor(payload.length / MAX_PAYLOAD_LENGTH) + 1;
  const out = Buffer.allocUnsafe(payload.length + fragments * PACKET_HEADER_LENGTH);
  let src = 0;
  let dst = 0;
  for (let i = 0; i < fragments; i++) {
    const n = Math.min(MAX_PAYLOAD_LENGTH, payload.length - src);
    out.writeUIntLE(n, dst, 3);
    out[dst + 3] = (sequenceId + i) & 0xff;
    payload.copy(out, dst + PACKET_HEADER_LENGTH, src, src + n);
    src += n;
    dst += PACKET_HEADER_LENGTH + n;
  }
  return out;
}

/** The sequence id a logical packet's first fragment has (a command starts with it); `sequenceId` is its last's. */
export function firstSequenceId(p: Packet): number {
  const fragments = Math.floor(p.payload.length / MAX_PAYLOAD_LENGTH) + 1;
  return (p.sequenceId - fragments + 1) & 0xff;
}

/**
 * Turns a byte stream into logical packets, incrementally, on a FrameScanner: a chunk's
 * bytes are looked at once, so feeding one byte at a time or a 16 MiB packet in 64 KiB
 * reads stays linear. Payload fragments are kept as views of the pushed chunks and
 * joined only when a packet completes; a packet that arrived whole in one chunk is a
 * view of it.
 *
 * The raw bytes of the incomplete packet are kept too, so takeRemaining() can hand
 * them verbatim (headers included) to a byte pipe that takes over the socket.
 *
 * Returned payloads may be views of pushed chunks, so a caller must not reuse a chunk's
 * memory after pushing it (socket 'data' buffers are never reused). After push() throws,
 * the stream is out of step and the framer must be discarded with its connection.
 */
export class PacketFramer implements FrameSink {
  private readonly scanner: FrameScanner;
  /** The current packet's payload ranges: earlier ones as views, the latest as a triple. */
  private readonly body: Buffer[] = [];
  private piece: Buffer | null = null;
  private pieceStart = 0;
  private pieceEnd = 0;
  private bodyLength = 0;
  private readonly raw: Buffer[] = [];
  private rawLength = 0;
  // Set for the length of one push: where packets go, and where unreturned bytes start.
  private out: Packet[] = NO_PACKETS;
  private rawFrom = 0;
  /** pushOne(): stop after a packet, and keep it here rather than in an array. */
  private stopAfterPacket = false;
  private single: Packet | null = null;
  private lastRead = 0;

  constructor(maxPacketSize: number) {
    if (!Number.isSafeInteger(maxPacketSize) || maxPacketSize < 0) {
      throw new ProtocolError(`max_packet_size ${maxPacketSize} is not a byte count`);
    }
    this.scanner = new FrameScanner(this, maxPacketSize);
  }

  /** Bytes received but not yet returned as part of a complete packet. */
  get buffered(): number {
    return this.rawLength;
  }

  /** Where pushOne() stopped in its chunk: the bytes from here on are still the caller's. */
  get consumed(): number {
    return this.lastRead;
  }

  push(chunk: Buffer): Packet[] {
    const packets: Packet[] = [];
    this.out = packets;
    this.read(chunk, 0);
    return packets;
  }

  /**
   * Reads chunk[from..] until one packet completes and stops right after it, so the
   * bytes behind it stay the caller's (from `consumed` on): a TLS ClientHello may follow
   * an SSLRequest in the same chunk. Null when the chunk ends first (all of it buffered).
   */
  pushOne(chunk: Buffer, from = 0): Packet | null {
    this.stopAfterPacket = true;
    this.read(chunk, from);
    const packet = this.single;
    this.single = null;
    return packet;
  }

  /** The stream ended here: ProtocolError if it ended inside a packet. */
  end(): void {
    this.scanner.end('stream');
  }

  /** Everything buffered, verbatim, and a clean framer: for handing the socket to a byte pipe. */
  takeRemaining(): Buffer {
    const out = this.raw.length === 1 ? this.raw[0]! : Buffer.concat(this.raw, this.rawLength);
    this.scanner.reset();
    this.body.length = 0;
    this.piece = null;
    this.bodyLength = 0;
    this.raw.length = 0;
    this.rawLength = 0;
    return out;
  }

  onPacketStart(): number {
    return WHOLE_PAYLOAD;
  }

  onPayload(chunk: Buffer, start: number, end: number): void {
    // The latest range stays a (chunk, start, end) triple: a packet that arrives in one
    // piece becomes one view at its end, with no array in between.
    if (this.piece) this.body.push(this.piece.subarray(this.pieceStart, this.pieceEnd));
    this.piece = chunk;
    this.pieceStart = start;
    this.pieceEnd = end;
    this.bodyLength += end - start;
  }

  onPacketEnd(_chunk: Buffer, end: number, sequenceId: number): boolean {
    const packet: Packet = { sequenceId, payload: this.joinBody() };
    if (this.stopAfterPacket) this.single = packet;
    else this.out.push(packet);
    this.raw.length = 0;
    this.rawLength = 0;
    this.rawFrom = end;
    return this.stopAfterPacket;
  }

  private joinBody(): Buffer {
    const { body, piece } = this;
    const length = this.bodyLength;
    this.bodyLength = 0;
    if (!piece) return EMPTY;
    this.piece = null;
    const last = piece.subarray(this.pieceStart, this.pieceEnd);
    if (body.length === 0) return last;
    body.push(last);
    const joined = Buffer.concat(body, length);
    body.length = 0;
    return joined;
  }

  private read(chunk: Buffer, from: number): void {
    this.rawFrom = from;
    // A throw leaves this half-set; the framer is then discarded with its connection.
    const stop = this.scanner.scan(chunk, from);
    this.out = NO_PACKETS;
    this.stopAfterPacket = false;
    if (this.rawFrom < stop) {
      this.raw.push(chunk.subarray(this.rawFrom, stop));
      this.rawLength += stop - this.rawFrom;
    }
    this.lastRead = stop;
  }
}

const EMPTY = Buffer.alloc(0);
/** Stands in for the output array between pushes, so no push's packets are kept. */
const NO_PACKETS: Packet[] = [];
