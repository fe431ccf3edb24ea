// TCP sockets to computes, read with net.Socket's onread option.
//
// A plain socket allocates a 64 KiB buffer for every read, shrinks it to what
// arrived and pushes it through the Readable machinery (a nextTick per chunk).
// Here every compute socket reads into one buffer shared by all of them: reads
// happen one at a time on this thread, and each is copied out before the next,
// so nothing ever holds on to the shared bytes. A copy of a few hundred bytes
// comes from Buffer's pool; a write may keep it as long as it likes.
//
// By default the copy is pushed into the socket's own Readable side, so 'data',
// pause() and 'end' work as on any socket (the handshake, pool checks and the
// transaction relay use it that way). A relay can divert() the bytes to itself
// instead and skip the stream machinery; its sink returns false to stop
// reading, and socket.resume() starts again. A diverted socket's sink gets
// every read, paused or not: whoever diverts does not pause.
import { Socket, type ConnectOpts, type SocketConstructorOpts, type TcpSocketConnectOpts } from 'node:net';
import { Duplex } from 'node:stream';

/** Takes the bytes of one read; false stops reading until socket.resume(). */
export interface ReadSink {
  onBackendData(chunk: Buffer): boolean;
}

/** libuv's own read size for TCP. */
const READ_SIZE = 64 * 1024;
const shared = Buffer.allocUnsafe(READ_SIZE);

interface Reads {
  sink: ReadSink | null;
}

const readsOf = new WeakMap<Socket, Reads>();

/**
 * pause() as on a plain socket: it stops 'data' events, and reading stops once
 * the Readable buffer is full. With onread, Node's pause() stops reading at
 * once instead, and the next resume() starts it again: two epoll_ctl calls per
 * pause, and a pooled connection is paused and resumed three times per client.
 */
class BackendSocket extends Socket {
  override pause(): this {
    Duplex.prototype.pause.call(this);
    return this;
  }
}

export function connectBackendSocket(host: string, port: number): Socket {
  const reads: Reads = { sink: null };
  // The constructor is what reads onread and noDelay (the types list them under connect()'s options).
  const options: SocketConstructorOpts & Pick<ConnectOpts, 'onread'> & Pick<TcpSocketConnectOpts, 'noDelay'> = {
    noDelay: true,
    onread: {
      buffer: shared,
      callback: (n: number) => {
        const chunk = Buffer.allocUnsafe(n);
        shared.copy(chunk, 0, 0, n);
        return reads.sink ? reads.sink.onBackendData(chunk) : socket.push(chunk);
      },
    },
  };
  const socket: Socket = new BackendSocket(options);
  socket.connect({ host, port });
  readsOf.set(socket, reads);
  return socket;
}

/**
 * Send what `socket` reads to `sink` from now on. False for a socket that was
 * not made here (a TLS socket, say): use its 'data' events then.
 */
export function divert(socket: Socket, sink: ReadSink): boolean {
  const reads = readsOf.get(socket);
  if (!reads) return false;
  // Bytes that arrived while it was paused go first.
  for (let chunk: Buffer | null; (chunk = socket.read() as Buffer | null) !== null; ) sink.onBackendData(chunk);
  reads.sink = sink;
  return true;
}

/** Back to 'data' events; false for a socket not made here (nothing to undo). */
export function undivert(socket: Socket): boolean {
  const reads = readsOf.get(socket);
  if (!reads) return false;
  reads.sink = null;
  return true;
}
