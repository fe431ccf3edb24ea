// A logged-in raw session that writes what a test gives it and reads everything the
// server sends until it closes: for comparing, byte for byte, what a client gets
// directly and through the proxy after a COM_QUIT or a half-close.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { COM_QUERY, CompressedPacketReader, PacketFramer, framePacket, parseGreeting, writeCompressedPackets, type Greeting } from '../../protocol/index.js';
import { wireSession } from './wire-login.js';

/** A COM_QUERY packet. */
export function query(sql: string): Buffer {
  return framePacket(Buffer.concat([Buffer.from([COM_QUERY]), Buffer.from(sql, 'utf8')]), 0);
}

/** Everything the server sends until it closes; a server that has not closed within `timeoutMs` is a failure. */
export function readToClose(socket: Socket, timeoutMs = 5_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no close within ${timeoutMs} ms (${Buffer.concat(chunks).length} bytes received)`));
    }, timeoutMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
    socket.resume();
  });
}

export interface ExchangeOptions {
  /** The session over TLS (the server needs a certificate). */
  tls?: boolean;
  /** The compressed protocol after the login: writes are compressed, and what is read is inflated. */
  compress?: boolean;
  /** Half-close (FIN; over TLS, close_notify first) after the last write. */
  fin?: boolean;
  timeoutMs?: number;
}

/**
 * Logs in as `app` on the raw wire, writes `writes` (each one write, back to back; a
 * number waits so many ms), then reads to the close. Returns the plain bytes received
 * after the login's OK.
 */
export async function exchange(port: number, writes: Array<Buffer | number>, o: ExchangeOptions = {}): Promise<Buffer> {
  const { outcome, socket } = await wireSession({
    port,
    user: Buffer.from('app'),
    password: 'app-secret',
    ...(o.tls ? { tls: true } : {}),
    ...(o.compress ? { compress: true } : {}),
  });
  assert.equal(outcome.kind, 'ok', JSON.stringify(outcome));
  const received = readToClose(socket, o.timeoutMs);
  for (const w of writes) {
    if (typeof w === 'number') await new Promise((r) => setTimeout(r, w));
    // A client starts each command's compressed packets at sequence id 0.
    else for (const p of o.compress ? writeCompressedPackets(w, 0).packets : [w]) socket.write(p);
  }
  if (o.fin) socket.end();
  const bytes = await received;
  return o.compress ? Buffer.concat(new CompressedPacketReader().push(bytes)) : bytes;
}

export interface FinDuringLogin {
  /** Half-close so long after writing (default: right after it). */
  finAfterMs?: number;
  /**
   * The answer and the FIN in one TCP segment (Python, TCP_CORK): the server cannot act
   * on the answer before it could know of the FIN. Node sends the FIN a moment later.
   */
  oneSegment?: boolean;
  timeoutMs?: number;
}

// Prints the greeting packet (hex), reads the answer (hex) from stdin, sends it and the FIN
// corked into one segment, then prints what the server sends until it closes (hex).
const ONE_SEGMENT_CLIENT = `
import socket, sys
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])))
s.settimeout(float(sys.argv[2]))
head = b''
while len(head) < 4: head += s.recv(4 - len(head))
body = b''
n = int.from_bytes(head[:3], 'little')
while len(body) < n: body += s.recv(n - len(body))
print((head + body).hex(), flush=True)
answer = bytes.fromhex(sys.stdin.readline().strip())
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
s.sendall(answer)
s.shutdown(socket.SHUT_WR)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)
got = b''
while True:
    chunk = s.recv(65536)
    if not chunk: break
    got += chunk
print(got.hex(), flush=True)
`;

async function finInOneSegment(port: number, then: (g: Greeting) => Buffer, timeoutMs: number): Promise<Buffer> {
  const child = spawn('/usr/bin/python3', ['-c', ONE_SEGMENT_CLIENT, String(port), String(timeoutMs / 1000)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const greeting = Buffer.from((await lines.next()).value as string, 'hex');
  child.stdin.write(`${then(parseGreeting(greeting.subarray(4))).toString('hex')}\n`);
  const received = (await lines.next()).value as string | undefined;
  if (received === undefined) throw new Error('the one-segment client failed (no close in time?)');
  return Buffer.from(received, 'hex');
}

/**
 * Connects, answers the greeting with `then(greeting)` (nothing, part of a login, a whole
 * one...), half-closes, and reads to the close: what a client gets for a FIN during its login.
 */
export async function finDuringLogin(port: number, then: (g: Greeting) => Buffer, o: FinDuringLogin = {}): Promise<Buffer> {
  if (o.oneSegment) return finInOneSegment(port, then, o.timeoutMs ?? 5_000);
  const { socket, greeting } = await greeted(port);
  const received = readToClose(socket, o.timeoutMs);
  if (o.finAfterMs === undefined) {
    socket.end(then(greeting));
  } else {
    socket.write(then(greeting));
    await new Promise((r) => setTimeout(r, o.finAfterMs));
    socket.end();
  }
  return received;
}

/** Connects and reads the greeting (in the first chunk: the server sends nothing else first). */
async function greeted(port: number): Promise<{ socket: Socket; greeting: Greeting }> {
  const socket = connect({ host: '127.0.0.1', port });
  socket.on('error', () => {});
  const greeting = await new Promise<Greeting>((resolve) =>
    socket.once('data', (chunk: Buffer) => resolve(parseGreeting(new PacketFramer(1 << 24).push(chunk)[0]!.payload))),
  );
  return { socket, greeting };
}

/** Connects, answers the greeting with `then(greeting)` and reads to the close: what a client gets after the greeting for that answer (a refusal, say). */
export async function answerGreeting(port: number, then: (g: Greeting) => Buffer, timeoutMs = 5_000): Promise<Buffer> {
  const { socket, greeting } = await greeted(port);
  const received = readToClose(socket, timeoutMs);
  socket.write(then(greeting));
  return received;
}
