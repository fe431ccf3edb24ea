import { ProtocolError } from './protocol-error.js';

/** Largest payload one wire fragment can carry; a logical packet this long or longer continues. */
export const MAX_PAYLOAD_LENGTH = 0xffffff;

/** Size of the header in front of every fragment: 3-byte length + 1-byte sequence id. */
export const PACKET_HEADER_LENGTH = 4;

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

/**
 * Turns a byte stream into logical packets, incrementally: a chunk's bytes are looked
 * at once, so feeding one byte at a time or a 16 MiB packet in 64 KiB reads stays
 * linear. Payload fragments are kept as views of the pushed chunks and joined only
 * when a packet completes.
 *
 * The raw bytes of the incomplete packet are kept too, so takeRemaining() can hand
 * them verbatim (headers included) to a byte pipe that takes over the socket.
 *
 * Returned payloads may be views of pushed chunks, so a caller must not reuse a chunk's
 * memory after pushing it (socket 'data' buffers are never reused). After push() throws,
 * the stream is out of step and the framer must be discarded with its connection.
 */
export class PacketFramer {
  private readonly maxPacketSize: number;
  /** Header bytes so far, little-endian in one number: no buffer per framer (sessions hold one each). */
  private header = 0;
  private headerFill = 0;
  /** Payload bytes still expected for the current fragment; -1 while reading a header. */
  private fragmentLeft = -1;
  private fragmentIsFull = false;
  private continuing = false;
  private lastSequenceId = 0;
  private readonly body: Buffer[] = [];
  private bodyLength = 0;
  private readonly raw: Buffer[] = [];
  private rawLength = 0;

  constructor(maxPacketSize: number) {
    if (!Number.isSafeInteger(maxPacketSize) || maxPacketSize < 0) {
      throw new ProtocolError(`max_packet_size ${maxPacketSize} is not a byte count`);
    }
    this.maxPacketSize = maxPacketSize;
  }

  /** Bytes received but not yet returned as part of a complete packet. */
  get buffered(): number {
    return this.rawLength;
  }

  push(chunk: Buffer): Packet[] {
    const packets: Packet[] = [];
    let pos = 0;
    let packetStart = 0;
    while (pos < chunk.length) {
      if (this.fragmentLeft < 0) {
        while (this.headerFill < PACKET_HEADER_LENGTH && pos < chunk.length) {
          this.header |= chunk[pos++]! << (8 * this.headerFill++);
        }
        if (this.headerFill < PACKET_HEADER_LENGTH) break;
        this.startFragment();
      }
      const n = Math.min(this.fragmentLeft, chunk.length - pos);
      if (n > 0) {
        this.body.push(chunk.subarray(pos, pos + n));
        this.bodyLength += n;
        this.fragmentLeft -= n;
        pos += n;
      }
      if (this.fragmentLeft > 0) break;
      this.fragmentLeft = -1;
      if (this.fragmentIsFull) {
        this.continuing = true;
        continue;
      }
      packets.push({ sequenceId: this.lastSequenceId, payload: this.joinBody() });
      this.resetPacket();
      packetStart = pos;
    }
    if (packetStart < chunk.length) {
      this.raw.push(chunk.subarray(packetStart));
      this.rawLength += chunk.length - packetStart;
    }
    return packets;
  }

  /** Everything buffered, verbatim, and a clean framer: for handing the socket to a byte pipe. */
  takeRemaining(): Buffer {
    const out = this.raw.length === 1 ? this.raw[0]! : Buffer.concat(this.raw, this.rawLength);
    this.resetPacket();
    return out;
  }

  private startFragment(): void {
    const length = this.header & MAX_PAYLOAD_LENGTH;
    const sequenceId = this.header >>> 24;
    if (this.continuing && sequenceId !== ((this.lastSequenceId + 1) & 0xff)) {
      throw new ProtocolError(
        `continuation packet has sequence id ${sequenceId}, expected ${(this.lastSequenceId + 1) & 0xff}`,
      );
    }
    // Checked per fragment header, so an oversized packet fails before its body arrives.
    if (this.bodyLength + length > this.maxPacketSize) {
      throw new ProtocolError(
        `packet of ${this.bodyLength + length} bytes exceeds max_packet_size ${this.maxPacketSize}`,
      );
    }
    this.header = 0;
    this.headerFill = 0;
    this.fragmentLeft = length;
    this.fragmentIsFull = length === MAX_PAYLOAD_LENGTH;
    this.lastSequenceId = sequenceId;
  }

  private joinBody(): Buffer {
    if (this.body.length === 1) return this.body[0]!;
    return Buffer.concat(this.body, this.bodyLength);
  }

  private resetPacket(): void {
    this.header = 0;
    this.headerFill = 0;
    this.fragmentLeft = -1;
    this.fragmentIsFull = false;
    this.continuing = false;
    this.body.length = 0;
    this.bodyLength = 0;
    this.raw.length = 0;
    this.rawLength = 0;
  }
}
