// Open a TCP connection to a compute and read its greeting.
import { connect, type Socket } from 'node:net';
import { isErrPacket, parseGreeting, type Greeting, type Packet } from '../protocol/index.js';
import { PacketChannel } from './packet-channel.js';
import type { BackendAddress } from '../control-client/types.js';

export interface BackendConnection {
  addr: BackendAddress;
  socket: Socket;
  channel: PacketChannel;
  greeting: Greeting;
}

/** The compute answered its greeting with an ERR (too many connections, host blocked). */
export class BackendRefusedError extends Error {
  override readonly name = 'BackendRefusedError';
  constructor(readonly packet: Packet) {
    super('compute refused the connection');
  }
}

export class BackendConnectError extends Error {
  override readonly name = 'BackendConnectError';
}

const HANDSHAKE_MAX_PACKET = 64 * 1024;

export async function connectBackend(
  addr: BackendAddress,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<BackendConnection> {
  const socket = await openSocket(addr, timeoutMs, signal);
  const channel = new PacketChannel(socket, 'backend', HANDSHAKE_MAX_PACKET);
  try {
    // A frozen compute accepts TCP but never speaks: the greeting timeout catches it.
    const first = await channel.read(timeoutMs, 'greeting');
    if (isErrPacket(first.payload)) throw new BackendRefusedError(first);
    return { addr, socket, channel, greeting: parseGreeting(first.payload) };
  } catch (err) {
    socket.destroy();
    if (err instanceof BackendRefusedError) throw err;
    throw new BackendConnectError(`no greeting from ${addr.host}:${addr.port}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

function openSocket(addr: BackendAddress, timeoutMs: number, signal: AbortSignal): Promise<Socket> {
  return new Promise<Socket>((resolve, reject) => {
    const socket = connect({ host: addr.host, port: addr.port, noDelay: true });
    const timer = setTimeout(() => done(new Error(`connect timed out after ${timeoutMs} ms`)), timeoutMs);
    const onAbort = () => done(new Error('client went away'));
    const done = (err: Error | null) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      socket.off('connect', onConnect);
      socket.off('error', onError);
      if (!err) return resolve(socket);
      socket.destroy();
      reject(new BackendConnectError(`cannot connect to ${addr.host}:${addr.port}: ${err.message}`, { cause: err }));
    };
    const onConnect = () => done(null);
    const onError = (err: Error) => done(err);
    socket.once('connect', onConnect);
    socket.once('error', onError);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
}
