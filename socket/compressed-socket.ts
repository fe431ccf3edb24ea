// The client hop of a session that negotiated CLIENT_COMPRESS: from the login's OK on,
// the client's socket carries compressed packets (protocol/compressed-packets.ts) and
// everything past the proxy speaks plain packets. This wraps the client's socket in a
// Duplex that reads plain bytes and writes plain bytes, so the relays, the command
// trackers and the proxy's own replies work on it exactly as on an uncompressed
// client; the compute hop is never compressed (it is per hop, like TLS).
//
// Compressed sequence ids, as MariaDB numbers them: each compressed packet the client
// sends sets the counter to its id + 1 (a client starts every command at 0), and each
// one written takes the counter and moves it on. Packets are numbered as they are
// written, in order.
//
// Costs are the compressed session's only: an uncompressed client never meets this.
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { CompressedPacketReader, writeCompressedPackets } from '../protocol/index.js';

export class CompressedSocket extends Duplex {
  private readonly reader = new CompressedPacketReader();
  private sequenceId = 0;

  constructor(
    /** The client's own socket (TCP or TLS), its login done. */
    readonly raw: Socket,
    /** Compressed bytes the client sent after its login, already read off `raw`. */
    leftover: Buffer,
  ) {
    // Half-open like the client's socket: a client's FIN ends what it sends, not what it reads.
    super({ allowHalfOpen: true });
    raw.on('data', this.onData);
    raw.on('end', this.onEnd);
    raw.on('error', this.onError);
    raw.on('close', this.onClose);
    if (leftover.length > 0) this.onData(leftover);
    // A client that half-closed during its login.
    if (raw.readableEnded) this.onEnd();
  }

  // What the proxy reads off a client socket besides its stream: counted on the wire.
  get bytesRead(): number {
    return this.raw.bytesRead;
  }

  get bytesWritten(): number {
    return this.raw.bytesWritten;
  }

  get remoteAddress(): string | undefined {
    return this.raw.remoteAddress;
  }

  get remotePort(): number | undefined {
    return this.raw.remotePort;
  }

  setNoDelay(noDelay?: boolean): this {
    this.raw.setNoDelay(noDelay);
    return this;
  }

  private readonly onData = (chunk: Buffer): void => {
    let plain: Buffer[];
    try {
      plain = this.reader.push(chunk);
    } catch (err) {
      this.destroy(err as Error);
      return;
    }
    if (this.reader.lastSequenceId >= 0) this.sequenceId = (this.reader.lastSequenceId + 1) & 0xff;
    let flowing = true;
    for (const p of plain) flowing = this.push(p);
    if (!flowing) this.raw.pause();
  };

  private readonly onEnd = (): void => {
    this.push(null);
  };

  private readonly onError = (err: Error): void => {
    this.destroy(err);
  };

  private readonly onClose = (): void => {
    this.destroy();
  };

  override _read(): void {
    this.raw.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    this.send([chunk], done);
  }

  /** Several writes waiting together go out as one run: fewer, better compressed packets. */
  override _writev(chunks: Array<{ chunk: Buffer }>, done: (err?: Error | null) => void): void {
    this.send(
      chunks.map((c) => c.chunk),
      done,
    );
  }

  private send(chunks: Buffer[], done: (err?: Error | null) => void): void {
    const plain = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    const { packets, next } = writeCompressedPackets(plain, this.sequenceId);
    this.sequenceId = next;
    let flowing = true;
    for (const p of packets) flowing = this.raw.write(p);
    if (flowing) done();
    else this.raw.once('drain', () => done());
  }

  override _final(done: (err?: Error | null) => void): void {
    this.raw.end();
    done();
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    this.raw.off('data', this.onData);
    this.raw.destroy();
    done(err);
  }
}

/** The socket a session relays on once `raw` speaks the compressed protocol. */
export function compressedClient(raw: Socket, leftover: Buffer): Socket {
  // A Duplex with the few Socket members the proxy uses on a relaying client (bytes counted, address, no-delay).
  return new CompressedSocket(raw, leftover) as unknown as Socket;
}
