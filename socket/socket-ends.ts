// Ending sockets cheaply, for the relays' teardown: end() only once (end() on a
// finished socket builds an error, stack trace and all, only to drop it), and
// one timer for every socket that must be gone a second after its end instead
// of a timer each.
import { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';

const GRACE_MS = 1_000;

/** Half-close our side unless it is already closing or gone. */
export function endOnce(socket: Socket): void {
  if (!socket.writableEnded && !socket.destroyed) socket.end();
}

/**
 * Our side's end once a session is over. A client that said goodbye (COM_QUIT)
 * and has every reply is closed at once, as MariaDB closes on COM_QUIT: one
 * close() sends the FIN, where end() then the close cost a shutdown, an epoll
 * change and a turn of the loop more. A TLS client still gets its close alert,
 * and replies still being written drain first (then a stuck peer is cut off).
 */
export function endAfterSession(socket: Socket, goodbye: boolean): void {
  if (goodbye && socket.writableLength === 0 && socket instanceof Socket && !(socket as TLSSocket).encrypted) socket.destroy();
  else closeSoon(socket);
}

/** Let a final packet drain, then make sure the socket is gone. */
export function closeSoon(socket: Socket): void {
  endOnce(socket);
  destroyLater(socket);
}

// Two generations: a socket waits one to two sweeps, then is destroyed.
let older = new Set<Socket>();
let newer = new Set<Socket>();
let sweeper: NodeJS.Timeout | null = null;

/**
 * Destroy `socket` one to two seconds from now if it has not closed by then (a
 * stuck peer). One that closes is let go at once: kept for the seconds, every
 * session's socket (and all it holds) outlived the young generation and was
 * promoted, which made each scavenge copy thousands of them.
 */
export function destroyLater(socket: Socket): void {
  if (socket.destroyed || newer.has(socket) || older.has(socket)) return;
  newer.add(socket);
  socket.on('close', forgetClosed);
  sweeper ??= setInterval(sweep, GRACE_MS).unref();
}

function forgetClosed(this: Socket): void {
  older.delete(this);
  newer.delete(this);
}

function sweep(): void {
  for (const socket of older) socket.destroy();
  older = newer;
  newer = new Set();
  if (older.size === 0 && sweeper) {
    clearInterval(sweeper);
    sweeper = null;
  }
}

/**
 * A client that half-closed is answered, then closed; one that also stops reading would
 * hold its session (and a pooled compute connection) for good, since a relay paused on
 * it never sees the compute give up. As MariaDB's net_write_timeout does for a direct
 * client: once it has sent FIN, a write to it that makes no progress for `timeoutMs`
 * ends it. A client waiting for a long statement has nothing pending and is left alone.
 */
export function endStalledAfterFin(socket: Socket, timeoutMs: number): void {
  const check = () => {
    if (socket.writableLength > 0) socket.destroy();
  };
  const arm = () => {
    // Node's idle timer restarts on each write and each completed write: it fires only when nothing moved.
    socket.setTimeout(timeoutMs);
    socket.on('timeout', check);
  };
  if (socket.readableEnded) arm();
  else socket.once('end', arm);
}
