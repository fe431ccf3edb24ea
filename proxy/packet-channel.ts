// Packet-at-a-time reading over a socket, used only during the handshake and
// authentication; afterwards the socket is detached and bytes flow raw.
import type { Socket } from 'node:net';
import { PacketFramer, framePacket, type Packet } from '../protocol/index.js';

export type Side = 'client' | 'backend';

export class ChannelClosedError extends Error {
  override readonly name = 'ChannelClosedError';
  constructor(readonly side: Side, cause?: unknown) {
    super(`${side} closed the connection`, { cause });
  }
}

export class ChannelTimeoutError extends Error {
  override readonly name = 'ChannelTimeoutError';
  constructor(readonly side: Side, readonly what: string, readonly timeoutMs: number) {
    super(`${side} sent no ${what} within ${timeoutMs} ms`);
  }
}

type Waiter = {
  resolve: (p: Packet) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout | undefined;
};

export class PacketChannel {
  private readonly framer: PacketFramer;
  private readonly queue: Packet[] = [];
  private waiter: Waiter | null = null;
  private failure: Error | null = null;
  private listener: ((p: Packet) => void) | null = null;
  private failureListener: ((err: Error) => void) | null = null;
  private lastSequenceId = -1;
  private readonly onData = (chunk: Buffer) => this.push(chunk);
  private readonly onEnd = () => this.fail(new ChannelClosedError(this.side));
  private readonly onError = (err: Error) => this.fail(new ChannelClosedError(this.side, err));

  constructor(readonly socket: Socket, readonly side: Side, maxPacketSize: number) {
    this.framer = new PacketFramer(maxPacketSize);
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onEnd);
    socket.on('error', this.onError);
  }

  /** The next packet, or a rejection when the peer closes, misbehaves or stays silent. */
  read(timeoutMs: number, what: string): Promise<Packet> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.failure) return Promise.reject(this.failure);
    if (this.waiter) return Promise.reject(new Error(`${this.side}: concurrent read of ${what}`));
    return new Promise<Packet>((resolve, reject) => {
      const timer =
        timeoutMs > 0
          ? setTimeout(() => {
              this.waiter = null;
              reject(new ChannelTimeoutError(this.side, what, timeoutMs));
            }, timeoutMs)
          : undefined;
      this.waiter = { resolve, reject, timer };
    });
  }

  /** Deliver every packet to `fn` as it arrives (queued ones first); errors still go to `read`ers. */
  listen(fn: ((p: Packet) => void) | null): void {
    this.listener = fn;
    while (fn && this.queue.length > 0 && this.listener === fn) fn(this.queue.shift()!);
  }

  /** The error that ended this channel, if any. */
  get error(): Error | null {
    return this.failure;
  }

  /** Call `fn` once if the channel fails (peer closed, bad bytes) while nobody is reading. */
  onFailure(fn: ((err: Error) => void) | null): void {
    this.failureListener = fn;
    if (fn && this.failure) fn(this.failure);
  }

  write(payload: Buffer, sequenceId: number): void {
    this.lastSequenceId = sequenceId;
    this.socket.write(framePacket(payload, sequenceId));
  }

  /** The sequence id a reply to the last packet seen or sent should carry. */
  get nextSequenceId(): number {
    return (this.lastSequenceId + 1) & 0xff;
  }

  /**
   * Stop parsing and give back every byte received but not consumed, so the
   * raw relay that takes over loses nothing.
   */
  detach(): Buffer {
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('close', this.onEnd);
    this.socket.off('error', this.onError);
    if (this.waiter?.timer) clearTimeout(this.waiter.timer);
    this.waiter = null;
    this.listener = null;
    this.failureListener = null;
    const parts = this.queue.splice(0).map((p) => framePacket(p.payload, p.sequenceId));
    parts.push(this.framer.takeRemaining());
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  private push(chunk: Buffer): void {
    let packets: Packet[];
    try {
      packets = this.framer.push(chunk);
    } catch (err) {
      this.fail(err as Error);
      return;
    }
    for (const p of packets) {
      this.lastSequenceId = p.sequenceId;
      if (this.listener) {
        this.listener(p);
      } else if (this.waiter) {
        const w = this.waiter;
        this.waiter = null;
        if (w.timer) clearTimeout(w.timer);
        w.resolve(p);
      } else {
        this.queue.push(p);
      }
    }
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    const w = this.waiter;
    this.waiter = null;
    if (w) {
      if (w.timer) clearTimeout(w.timer);
      w.reject(err);
    } else {
      this.failureListener?.(err);
    }
  }
}
