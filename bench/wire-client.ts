// A minimal MySQL client that times each step of a connection, which no
// driver exposes: TCP + greeting, login (handshake response sent until OK:
// through the proxy this holds the wake, the backend connect and the
// compute's verdict), and the first query. Used for cold wakes, where that
// breakdown is the point.
import { connect, type Socket } from 'node:net';
import {
  CLIENT_LONG_PASSWORD,
  CLIENT_MULTI_RESULTS,
  CLIENT_PLUGIN_AUTH,
  CLIENT_PROTOCOL_41,
  CLIENT_SECURE_CONNECTION,
  CLIENT_TRANSACTIONS,
  COM_QUERY,
  COM_QUIT,
  ERR_HEADER,
  NATIVE_PASSWORD_PLUGIN,
  OK_HEADER,
  PacketFramer,
  SCRAMBLE_LENGTH,
  UTF8MB4_GENERAL_CI,
  framePacket,
  isAuthSwitchRequest,
  isErrPacket,
  parseAuthSwitchRequest,
  parseErrPacket,
  parseGreeting,
  scrambleNativePassword,
  writeHandshakeResponse,
  type Packet,
} from '../protocol/index.js';

export interface WireTarget {
  host: string;
  port: number;
  user: string;
  password: string;
}

/** Milliseconds spent in each step. */
export interface ConnectTimings {
  greeting: number;
  login: number;
  query: number;
  total: number;
  /** Whether the server switched auth (passthrough auth does; a proxy that verifies itself does not). */
  authSwitch: boolean;
}

const CAPABILITIES =
  CLIENT_LONG_PASSWORD | CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH | CLIENT_TRANSACTIONS | CLIENT_MULTI_RESULTS;

/** Connect, authenticate, run `SELECT 1`, quit. Rejects with the server's message on ERR. */
export async function timedConnectAndSelect(t: WireTarget, timeoutMs: number): Promise<ConnectTimings> {
  const t0 = performance.now();
  const conn = await open(t.host, t.port, timeoutMs);
  try {
    const greeting = parseGreeting(expectNotErr(await conn.next('greeting')).payload);
    const tGreeting = performance.now();
    conn.send(
      writeHandshakeResponse({
        capabilities: CAPABILITIES,
        maxPacketSize: 16 * 1024 * 1024,
        charset: UTF8MB4_GENERAL_CI,
        mariadbCapabilities: 0,
        user: t.user,
        authResponse: scrambleNativePassword(t.password, greeting.scramble.subarray(0, SCRAMBLE_LENGTH)),
        database: null,
        authPluginName: NATIVE_PASSWORD_PLUGIN,
        connectAttributes: null,
      }),
      1,
    );
    let reply = await conn.next('auth reply');
    const authSwitch = isAuthSwitchRequest(reply.payload);
    if (authSwitch) {
      const sw = parseAuthSwitchRequest(reply.payload);
      const scramble = sw.pluginData.subarray(0, SCRAMBLE_LENGTH);
      conn.send(scrambleNativePassword(t.password, scramble), (reply.sequenceId + 1) & 0xff);
      reply = await conn.next('auth verdict');
    }
    if (reply.payload[0] !== OK_HEADER) throw new Error(`login failed: ${describe(reply.payload)}`);
    const tOk = performance.now();
    conn.send(Buffer.concat([Buffer.from([COM_QUERY]), Buffer.from('SELECT 1')]), 0);
    // Column count, column definition, EOF, row, EOF: the second EOF ends the result.
    for (let eofs = 0; eofs < 2; ) {
      const p = expectNotErr(await conn.next('result'));
      if (p.payload[0] === 0xfe && p.payload.length < 9) eofs++;
    }
    const tResult = performance.now();
    conn.send(Buffer.from([COM_QUIT]), 0);
    return { greeting: tGreeting - t0, login: tOk - tGreeting, query: tResult - tOk, total: tResult - t0, authSwitch };
  } finally {
    conn.close();
  }
}

function expectNotErr(p: Packet): Packet {
  if (isErrPacket(p.payload)) throw new Error(describe(p.payload));
  return p;
}

function describe(payload: Buffer): string {
  if (payload[0] !== ERR_HEADER) return `unexpected packet 0x${(payload[0] ?? 0).toString(16)}`;
  const e = parseErrPacket(payload, CLIENT_PROTOCOL_41);
  return `${e.code} (${e.sqlState}) ${e.message}`;
}

interface Connection {
  next(what: string): Promise<Packet>;
  send(payload: Buffer, sequenceId: number): void;
  close(): void;
}

/** A socket with a packet queue; every read shares one deadline. */
function open(host: string, port: number, timeoutMs: number): Promise<Connection> {
  const deadline = performance.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const socket: Socket = connect({ host, port, noDelay: true });
    const framer = new PacketFramer(16 * 1024 * 1024);
    const queue: Packet[] = [];
    let failure: Error | null = null;
    let waiter: (() => void) | null = null;
    const wake = () => {
      const w = waiter;
      waiter = null;
      w?.();
    };
    socket.on('data', (chunk: Buffer) => {
      try {
        queue.push(...framer.push(chunk));
      } catch (err) {
        failure = err as Error;
      }
      wake();
    });
    socket.on('close', () => {
      failure ??= new Error('server closed the connection');
      wake();
    });
    socket.once('error', (err) => {
      failure = err;
      reject(err);
      wake();
    });
    socket.once('connect', () =>
      resolve({
        async next(what) {
          while (queue.length === 0) {
            if (failure) throw new Error(`${what}: ${failure.message}`);
            const left = deadline - performance.now();
            if (left <= 0) throw new Error(`${what}: nothing within ${timeoutMs} ms`);
            await new Promise<void>((r) => {
              const timer = setTimeout(r, left);
              waiter = () => {
                clearTimeout(timer);
                r();
              };
            });
          }
          return queue.shift()!;
        },
        send(payload, sequenceId) {
          socket.write(framePacket(payload, sequenceId));
        },
        close() {
          socket.end();
          setTimeout(() => socket.destroy(), 200).unref();
        },
      }),
    );
  });
}
