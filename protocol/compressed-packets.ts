// The compressed protocol (CLIENT_COMPRESS), both directions: after the login's OK
// every byte travels inside compressed packets. Each has a 7-byte header (3 bytes of
// payload length, 1 byte of compressed sequence id, 3 bytes of uncompressed length,
// 0 meaning the payload was sent as it is) and a zlib payload that may hold several
// MySQL packets, or part of one: the plain stream is cut anywhere. The compressed
// sequence id is its own counter, apart from the MySQL packets' ids inside.
// https://mariadb.com/kb/en/0-packet/ (compressed packet)
import { inflateSync, deflateSync } from 'node:zlib';
import { ProtocolError } from './protocol-error.js';

export const COMPRESSED_HEADER_LENGTH = 7;
/** The largest payload, compressed or not, one compressed packet carries. */
export const MAX_COMPRESSED_PAYLOAD = 0xffffff;
/** Shorter runs are sent uncompressed, as MariaDB does (MIN_COMPRESS_LENGTH). */
export const MIN_COMPRESS_LENGTH = 50;

const LABEL = 'compressed packet';
const EMPTY = Buffer.alloc(0);

/**
 * Cuts a stream of compressed packets back into the plain stream. Bytes are held only
 * until a compressed packet is whole; each one's size is checked before any is inflated,
 * and inflating never yields more than the header promised.
 */
export class CompressedPacketReader {
  private buffered: Buffer = EMPTY;
  /** The sequence id of the last compressed packet read, -1 before the first. */
  lastSequenceId = -1;

  /** Plain bytes from `chunk` (and what was held before); throws ProtocolError on a bad packet. */
  push(chunk: Buffer): Buffer[] {
    let data = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const out: Buffer[] = [];
    while (data.length >= COMPRESSED_HEADER_LENGTH) {
      const length = data.readUIntLE(0, 3);
      const end = COMPRESSED_HEADER_LENGTH + length;
      if (data.length < end) break;
      this.lastSequenceId = data[3]!;
      const plainLength = data.readUIntLE(4, 3);
      const payload = data.subarray(COMPRESSED_HEADER_LENGTH, end);
      out.push(plainLength === 0 ? payload : inflate(payload, plainLength));
      data = data.subarray(end);
    }
    // A copy: the chunk's memory may belong to a larger buffer kept alive otherwise.
    this.buffered = data.length === 0 ? EMPTY : Buffer.from(data);
    return out;
  }

  /** Bytes of a compressed packet not yet whole. */
  get pending(): number {
    return this.buffered.length;
  }
}

function inflate(payload: Buffer, plainLength: number): Buffer {
  let plain: Buffer;
  try {
    plain = inflateSync(payload, { maxOutputLength: plainLength });
  } catch (err) {
    throw new ProtocolError(`${LABEL}: cannot inflate ${payload.length} bytes to ${plainLength}: ${(err as Error).message}`);
  }
  if (plain.length !== plainLength) {
    throw new ProtocolError(`${LABEL}: inflated to ${plain.length} bytes, header says ${plainLength}`);
  }
  return plain;
}

/**
 * Wraps plain bytes in compressed packets numbered from `sequenceId`: runs of at most
 * MAX_COMPRESSED_PAYLOAD bytes, deflated unless short or incompressible. Returns the
 * packets and the sequence id the next one takes.
 */
export function writeCompressedPackets(plain: Buffer, sequenceId: number): { packets: Buffer[]; next: number } {
  const packets: Buffer[] = [];
  let seq = sequenceId & 0xff;
  for (let at = 0; at < plain.length; at += MAX_COMPRESSED_PAYLOAD) {
    packets.push(compressedPacket(plain.subarray(at, at + MAX_COMPRESSED_PAYLOAD), seq));
    seq = (seq + 1) & 0xff;
  }
  return { packets, next: seq };
}

function compressedPacket(run: Buffer, seq: number): Buffer {
  let payload = run;
  let plainLength = 0;
  if (run.length >= MIN_COMPRESS_LENGTH) {
    const deflated = deflateSync(run);
    if (deflated.length < run.length) {
      payload = deflated;
      plainLength = run.length;
    }
  }
  const header = Buffer.allocUnsafe(COMPRESSED_HEADER_LENGTH);
  header.writeUIntLE(payload.length, 0, 3);
  header[3] = seq;
  header.writeUIntLE(plainLength, 4, 3);
  return Buffer.concat([header, payload]);
}
