// Closing a compute connection the proxy logged in itself (a pooled one, or one of its
// own): COM_QUIT first, so the compute closes it as a client that said goodbye. Without
// it every close counts in the compute's Aborted_clients and writes an "Aborted
// connection" warning to its log. The compute then closes its side; whatever it still
// sends is read and dropped (an unread byte would turn our close into a reset), and one
// that does not close within a second or two is cut off.
import type { Socket } from 'node:net';
import { framePacket, writeComQuit } from '../protocol/index.js';
import { destroyLater } from '../socket/socket-ends.js';

const QUIT = framePacket(writeComQuit(), 0);

export function quitConnection(socket: Socket): void {
  if (socket.destroyed) return;
  // A TLS socket sends its close alert after the COM_QUIT: the compute has read its goodbye first.
  if (!socket.writableEnded) socket.end(QUIT);
  socket.resume();
  destroyLater(socket);
}
