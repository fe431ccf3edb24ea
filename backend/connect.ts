// Open a TCP connection to a compute, read its greeting, and upgrade to TLS
// when asked.
import { isIP, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import {
  CLIENT_SSL,
  isErrPacket,
  parseGreeting,
  writeSslRequest,
  type Greeting,
  type Packet,
} from '../protocol/index.js';
import { HANDSHAKE_MAX_PACKET, PacketChannel } from '../socket/packet-channel.js';
import { connectBackendSocket } from './backend-socket.js';
import type { BackendAddress } from './address.js';
import type { AbortWatch } from '../util/abort.js';

export interface BackendConnection {
  addr: BackendAddress;
  /** The TLS socket when upgraded. */
  socket: Socket;
  channel: PacketChannel;
  greeting: Greeting;
  /** Set when the connection was upgraded: the login must carry CLIENT_SSL too. */
  tls: boolean;
}

/** TLS from the proxy to its computes. */
export interface BackendTlsOptions {
  /** Check the compute's certificate against `ca` (or the system's roots). */
  rejectUnauthorized: boolean;
  ca?: Buffer;
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

/** TLS to the compute was asked for and could not be had: retrying would not help. */
export class BackendTlsError extends Error {
  override readonly name = 'BackendTlsError';
}

const GREETING_TIMEOUT_MS = 2_000;

export async function connectBackend(
  addr: BackendAddress,
  timeoutMs: number,
  signal?: AbortWatch,
): Promise<BackendConnection> {
  const socket = await openSocket(addr, timeoutMs, signal);
  const channel = new PacketChannel(socket, 'backend', HANDSHAKE_MAX_PACKET);
  let greeting: Greeting;
  try {
    // A frozen compute accepts TCP but never speaks; an awake one greets within
    // milliseconds. A short bound sends the client back to wake it soon.
    const first = await channel.read(Math.min(timeoutMs, GREETING_TIMEOUT_MS), 'greeting');
    if (isErrPacket(first.payload)) throw new BackendRefusedError(first);
    greeting = parseGreeting(first.payload);
  } catch (err) {
    socket.destroy();
    if (err instanceof BackendRefusedError) throw err;
    throw new BackendConnectError(`no greeting from ${addr.host}:${addr.port}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return { addr, socket, channel, greeting, tls: false };
}

/** What the login that follows will announce: the compute takes its capabilities from the SSLRequest. */
export interface LoginShape {
  capabilities: number;
  mariadbCapabilities: number;
  charset: number;
}

/**
 * SSLRequest, then a TLS handshake on the same socket; the HandshakeResponse
 * follows inside TLS. MariaDB keeps the capabilities of the SSLRequest, so it
 * must carry exactly those of the login.
 */
export async function secureBackend(
  conn: BackendConnection,
  opts: BackendTlsOptions,
  login: LoginShape,
  timeoutMs: number,
): Promise<BackendConnection> {
  const { addr, greeting } = conn;
  const where = `${addr.host}:${addr.port}`;
  if ((greeting.capabilities & CLIENT_SSL) === 0) {
    conn.socket.destroy();
    throw new BackendTlsError(`compute ${where} does not offer TLS (start it with --ssl-cert and --ssl-key)`);
  }
  conn.channel.write(
    writeSslRequest({
      capabilities: (login.capabilities | CLIENT_SSL) >>> 0,
      maxPacketSize: 16 * 1024 * 1024,
      charset: login.charset,
      mariadbCapabilities: login.mariadbCapabilities,
    }),
    1,
  );
  conn.channel.detach();
  const secure = tlsConnect({
    socket: conn.socket,
    rejectUnauthorized: opts.rejectUnauthorized,
    ...(opts.ca ? { ca: opts.ca } : {}),
    ...(isIP(addr.host) ? {} : { servername: addr.host }),
  });
  try {
    await settle(secure, 'secureConnect', timeoutMs);
  } catch (err) {
    secure.destroy();
    throw new BackendTlsError(`TLS to compute ${where} failed: ${(err as Error).message}`, { cause: err });
  }
  secure.setNoDelay(true);
  return { ...conn, socket: secure, channel: new PacketChannel(secure, 'backend', HANDSHAKE_MAX_PACKET, 1), tls: true };
}

async function openSocket(addr: BackendAddress, timeoutMs: number, signal?: AbortWatch): Promise<Socket> {
  const socket = connectBackendSocket(addr.host, addr.port);
  try {
    await settle(socket, 'connect', timeoutMs, signal);
    return socket;
  } catch (err) {
    socket.destroy();
    const e = err as Error;
    throw new BackendConnectError(`cannot connect to ${addr.host}:${addr.port}: ${e.message}`, { cause: e.cause ?? e });
  }
}

/**
 * Wait for `event`; an 'error', the timeout or the signal rejects with a message fit for a log.
 * Listeners and one timer, rather than events.once() under a deadline(): this runs for
 * every backend connection, and an AbortController and two abort listeners more apiece add up.
 */
function settle(emitter: Socket, event: string, timeoutMs: number, signal?: AbortWatch): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const finish = (err: Error | null) => {
      clearTimeout(timer);
      emitter.off(event, onEvent);
      emitter.off('error', onError);
      signal?.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve();
    };
    const onEvent = () => finish(null);
    const onError = (err: Error) => finish(err);
    const onAbort = () => finish(new Error('client went away', { cause: signal!.reason }));
    const timer = setTimeout(() => finish(new Error(`${event} timed out after ${timeoutMs} ms`)), timeoutMs);
    emitter.once(event, onEvent);
    emitter.once('error', onError);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
  });
}
