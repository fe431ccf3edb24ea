// Packet-at-a-time reading over a socket, used during the handshake and authentication
// and for the proxy's own queries on a compute connection; afterwards the socket is
// detached and bytes flow raw, or (transaction mode's client) the channel parks and
// hands the socket's events on to the relay as they come.
//
// Packets are cut from the buffer only when someone asks for one, never ahead: a
// client may send its SSLRequest and its TLS ClientHello in one chunk, and the
// ClientHello must reach the TLS layer untouched. The framer reads up to the end of
// one packet and stops there (frame-scanner.ts); 16 MiB continuations are joined, up
// to `maxPacketSize` for the whole packet.
import type { Socket } from 'node:net';
import { PacketFramer, ProtocolError, framePacket, type Packet } from '../protocol/index.js';

export type Side = 'client' | 'backend';

export class ChannelClosedError extends Error {
  override readonly name = 'ChannelClosedError';
  constructor(
    readonly side: Side,
    cause?: unknown,
    /** The peer only half-closed (sent FIN): it may still read what it is sent. */
    readonly halfClosed = false,
  ) {
    super(`${side} ${halfClosed ? 'half-closed' : 'closed'} the connection`, { cause });
  }
}

export class ChannelTimeoutError extends Error {
  override readonly name = 'ChannelTimeoutError';
  constructor(readonly side: Side, readonly what: string, readonly timeoutMs: number) {
    super(`${side} sent no ${what} within ${timeoutMs} ms`);
  }
}

/** Where a channel handed over (handOver) sends its socket's events from then on. */
export interface ChannelSink {
  onData(chunk: Buffer): void;
  onEnd(): void;
  onClose(): void;
  onError(err: Error): void;
}

type Waiter = {
  resolve: (p: Packet) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout | undefined;
};

const EMPTY = Buffer.alloc(0);

function detached(): void {}

/** What a channel's sink is once its taker let go: every event dropped (the socket is being closed). */
const DROPPED: ChannelSink = { onData: detached, onEnd: detached, onClose: detached, onError: detached };

/** Handshake and authentication packets are small; anything bigger is hostile or broken. */
export const HANDSHAKE_MAX_PACKET = 64 * 1024;

export class PacketChannel {
  /** Bytes received; those from `bufAt` on are not yet read by the framer. */
  private buf: Buffer = EMPTY;
  private bufAt = 0;
  /** Holds the part of a packet read so far; let go of on detach. */
  private framer: PacketFramer | null;
  private waiter: Waiter | null = null;
  private failure: Error | null = null;
  private listener: ((p: Packet) => void) | null = null;
  private failureListener: ((err: Error) => void) | null = null;
  /**
   * After park(): the chunks that came before handOver(), then the sink every event
   * goes to (DROPPED once the sink let go). Null while the channel frames packets.
   */
  private parked: Buffer[] | null = null;
  private sink: ChannelSink | null = null;
  // Let go of on detach (see there): a held session's context keeps its channel.
  private onData = (chunk: Buffer) => {
    if (this.sink) return this.sink.onData(chunk);
    if (this.parked) return void this.parked.push(chunk);
    this.buf = this.bufAt === this.buf.length ? chunk : Buffer.concat([this.buf.subarray(this.bufAt), chunk]);
    this.bufAt = 0;
    this.pump();
  };
  private onEnd = () => {
    if (this.sink) return this.sink.onEnd();
    if (!this.parked) this.fail(new ChannelClosedError(this.side, this.cutShort(), true));
  };
  private onClose = () => {
    if (this.sink) return this.sink.onClose();
    if (!this.parked) this.fail(new ChannelClosedError(this.side, this.cutShort()));
  };
  private onError = (err: Error) => {
    if (this.sink) return this.sink.onError(err);
    if (!this.parked) this.fail(new ChannelClosedError(this.side, err));
  };

  constructor(
    readonly socket: Socket,
    readonly side: Side,
    maxPacketSize: number,
    /** Where the exchange stands when a channel takes over mid-handshake (after a TLS upgrade). */
    private lastSequenceId = -1,
    /** Bytes already read off the socket by someone else, to be framed first. */
    unread: Buffer = EMPTY,
  ) {
    this.buf = unread;
    this.framer = new PacketFramer(maxPacketSize);
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onClose);
    socket.on('error', this.onError);
  }

  /** The peer sent FIN (or went away): it sends nothing more. */
  get ended(): boolean {
    return this.failure instanceof ChannelClosedError;
  }

  /** The next packet, or a rejection when the peer closes, misbehaves or stays silent. */
  read(timeoutMs: number, what: string): Promise<Packet> {
    if (this.waiter) return Promise.reject(new Error(`${this.side}: concurrent read of ${what}`));
    let ready: Packet | null;
    try {
      ready = this.cut();
    } catch (err) {
      this.fail(err as Error);
      return Promise.reject(err);
    }
    if (ready) return Promise.resolve(ready);
    if (this.failure) return Promise.reject(this.failure);
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

  /**
   * The next packet if it has already arrived whole, else null (then read() waits for
   * it): a reader of several packets awaits only when it must. Throws what read() rejects with.
   */
  tryRead(): Packet | null {
    if (this.waiter) return null;
    try {
      return this.cut();
    } catch (err) {
      this.fail(err as Error);
      throw err;
    }
  }

  /** Deliver every packet to `fn` as it arrives (buffered ones first). */
  listen(fn: ((p: Packet) => void) | null): void {
    this.listener = fn;
    this.pump();
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
   * Stop reading and give back every byte received but not consumed, so the
   * raw relay (or the TLS layer) that takes over loses nothing.
   */
  detach(): Buffer {
    // Paused so nothing flows to a stream with no 'data' listener and is lost;
    // whoever takes over (pipe(), the TLS layer) resumes reading.
    this.socket.pause();
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('close', this.onClose);
    this.socket.off('error', this.onError);
    // The session that took over may keep this channel for its whole life: the
    // listener closures need not live that long.
    this.onData = this.onEnd = this.onClose = this.onError = detached;
    return this.stopFraming();
  }

  /** No reader, no timer, no framer: the bytes received but not consumed, in one Buffer (or EMPTY). */
  private stopFraming(): Buffer {
    if (this.waiter?.timer) clearTimeout(this.waiter.timer);
    this.waiter = null;
    this.listener = null;
    this.failureListener = null;
    const partial = this.framer?.takeRemaining() ?? EMPTY;
    this.framer = null;
    const unread = this.buf.subarray(this.bufAt);
    const rest = partial.length === 0 ? unread : unread.length === 0 ? partial : Buffer.concat([partial, unread]);
    this.buf = EMPTY;
    this.bufAt = 0;
    // An empty view would keep the whole last chunk alive for as long as the session holds it.
    return rest.length > 0 ? rest : EMPTY;
  }

  /**
   * Stop reading packets, as detach() does, but keep the socket flowing and its
   * listeners on: what arrives waits here until handOver() names who takes it. A relay
   * that takes the socket so (the transaction relay) costs no pause, resume or
   * listener swap; each of those costs a churned connection about a microsecond.
   * Returns the bytes received but not consumed, as detach() does.
   */
  park(): Buffer {
    const rest = this.stopFraming();
    this.parked = [];
    return rest;
  }

  /** After park(): `sink` gets the chunks that waited, then every event; null drops them from now on. */
  handOver(sink: ChannelSink | null): void {
    const waiting = this.parked;
    this.sink = sink ?? DROPPED;
    this.parked = null;
    if (sink && waiting) for (const chunk of waiting) sink.onData(chunk);
  }

  /** Whether park() was called: the socket is this channel's to hand over, not to be listened to anew. */
  get isParked(): boolean {
    return this.parked !== null || this.sink !== null;
  }

  /** One whole packet, read from the front of the buffer and no further, or null if it has not all arrived. */
  private cut(): Packet | null {
    const { buf, framer } = this;
    if (this.bufAt === buf.length || !framer) return null;
    const packet = framer.pushOne(buf, this.bufAt);
    this.bufAt = framer.consumed;
    if (this.bufAt === buf.length) {
      this.buf = EMPTY;
      this.bufAt = 0;
    }
    if (packet) this.lastSequenceId = packet.sequenceId;
    return packet;
  }

  /** The peer closed: a packet it cut short is the cause worth logging. */
  private cutShort(): ProtocolError | undefined {
    try {
      this.framer?.end();
    } catch (err) {
      return err as ProtocolError;
    }
    return undefined;
  }

  private pump(): void {
    while (this.listener || this.waiter) {
      let p: Packet | null;
      try {
        p = this.cut();
      } catch (err) {
        this.fail(err as Error);
        return;
      }
      if (!p) return;
      if (this.listener) {
        this.listener(p);
      } else {
        const w = this.waiter!;
        this.waiter = null;
        if (w.timer) clearTimeout(w.timer);
        w.resolve(p);
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
