// A raw login for tests that need what no driver sends: user names that are not
// valid UTF-8, a plugin the proxy must switch away from, a client that hangs up
// at the auth switch, a session whose socket half-closes (over TLS, compressed).
import { connect, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import {
  CLIENT_COMPRESS,
  CLIENT_CONNECT_WITH_DB,
  CLIENT_LONG_PASSWORD,
  CLIENT_SSL,
  CLIENT_PLUGIN_AUTH,
  CLIENT_PROTOCOL_41,
  CLIENT_SECURE_CONNECTION,
  CLIENT_TRANSACTIONS,
  ERR_HEADER,
  OK_HEADER,
  PacketFramer,
  SCRAMBLE_LENGTH,
  UTF8MB4_GENERAL_CI,
  framePacket,
  isAuthSwitchRequest,
  parseAuthSwitchRequest,
  parseErrPacket,
  parseGreeting,
  scrambleNativePassword,
  writeHandshakeResponse,
  writeSslRequest,
  type Greeting,
  type Packet,
} from '../../protocol/index.js';

export type WireOutcome =
  | { kind: 'ok' }
  /** `packet`, with `exact`: the ERR as sent, `<sequence id>:<payload in hex>` (its SQLSTATE and message bytes too). */
  | { kind: 'error'; code: number; message: string; packet?: string }
  /** The server asked to switch plugins and the client hung up, as asked. */
  | { kind: 'hung_up'; plugin: string }
  | { kind: 'closed' };

export interface WireLogin {
  port: number;
  /** Raw user bytes (need not be UTF-8). */
  user: Buffer;
  password: string;
  /** The plugin the client claims to answer with; default mysql_native_password. */
  plugin?: string;
  /** Hang up instead of answering an auth switch. */
  hangUpAtSwitch?: boolean;
  /** SSLRequest, then the rest over TLS (any certificate); the session's socket is the TLS one. */
  tls?: boolean;
  /** Ask for CLIENT_COMPRESS: what follows the login's OK is compressed both ways. */
  compress?: boolean;
  /**
   * MariaDB's extended capabilities to ask for (the filler's last 4 bytes; default none), less what the
   * greeting lacks. Without `capabilities`, the login then drops CLIENT_LONG_PASSWORD (CLIENT_MYSQL to MariaDB).
   */
  mariadbCapabilities?: number;
  /** The handshake's collation id (default utf8mb4_general_ci). */
  charset?: number;
  /** Collects the plugin of every auth switch the server sends. */
  switches?: string[];
  timeoutMs?: number;
  /** The client's capability flags (default: protocol 4.1, secure connection, plugin auth, transactions); TLS and compression are added by their options. */
  capabilities?: number;
  /** The database named at login, as text or raw bytes (sets CLIENT_CONNECT_WITH_DB). */
  database?: string | Buffer;
  /** Connection attributes, sent when `capabilities` has CLIENT_CONNECT_ATTRS. */
  connectAttributes?: Array<[string, string]>;
  /** Keep only the flags (and extended capabilities) the greeting offers, as a driver does. */
  negotiate?: boolean;
  /** The handshake response's payload as written (for layouts the writer refuses, such as HandshakeResponse320). */
  rawResponse?: (greeting: Greeting) => Buffer;
  /** An ERR's outcome carries its packet as sent (`packet`), for byte-exact comparisons. */
  exact?: boolean;
}

const CAPS = CLIENT_LONG_PASSWORD | CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH | CLIENT_TRANSACTIONS;
const PLACEHOLDER = '\u0001';

export async function wireLogin(o: WireLogin): Promise<WireOutcome> {
  const { outcome, socket } = await wireSession(o);
  socket.destroy();
  return outcome;
}

/**
 * The same login, its socket left open (paused, no listeners but an error one) for
 * what a test sends next: a logged-in session on the raw wire. A test may end() its
 * side (half-close) and read on until the server closes.
 */
export function wireSession(o: WireLogin): Promise<{ outcome: WireOutcome; socket: Socket }> {
  return loginOn(connect({ host: '127.0.0.1', port: o.port }), o);
}

async function loginOn(raw: Socket, o: WireLogin): Promise<{ outcome: WireOutcome; socket: Socket }> {
  let socket = raw;
  const done = (outcome: WireOutcome) => ({ outcome, socket });
  const framer = new PacketFramer(1 << 24);
  const queue: Packet[] = [];
  let closed = false;
  let wake: (() => void) | null = null;
  const onData = (chunk: Buffer) => {
    queue.push(...framer.push(chunk));
    wake?.();
  };
  const onClose = () => {
    closed = true;
    wake?.();
  };
  socket.on('data', onData);
  socket.on('close', onClose);
  socket.on('error', () => {});
  const deadline = Date.now() + (o.timeoutMs ?? 30_000);
  const next = async (): Promise<Packet | null> => {
    while (queue.length === 0 && !closed) {
      if (Date.now() > deadline) throw new Error('wireLogin: no answer in time');
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 50);
      });
      wake = null;
    }
    return queue.shift() ?? null;
  };
  try {
    const greetingPacket = await next();
    if (!greetingPacket) return done({ kind: 'closed' });
    if (greetingPacket.payload[0] === ERR_HEADER) return done(errorOf(greetingPacket, o.exact));
    const greeting = parseGreeting(greetingPacket.payload);
    // CLIENT_LONG_PASSWORD is CLIENT_MYSQL to MariaDB: a client that asks for extended capabilities leaves it out.
    const base = o.capabilities ?? (o.mariadbCapabilities ? CAPS & ~CLIENT_LONG_PASSWORD : CAPS);
    let caps = (base | (o.tls ? CLIENT_SSL : 0) | (o.compress ? CLIENT_COMPRESS : 0) | (o.database !== undefined ? CLIENT_CONNECT_WITH_DB : 0)) >>> 0;
    // Negotiated as a driver does: only what the greeting offers (extended capabilities always).
    if (o.negotiate) caps = (caps & greeting.capabilities) >>> 0;
    o = { ...o, mariadbCapabilities: (o.mariadbCapabilities ?? 0) & greeting.mariadbCapabilities };
    let sequenceId = 1;
    if (o.tls) {
      raw.write(framePacket(writeSslRequest({ capabilities: caps, maxPacketSize: 1 << 24, charset: UTF8MB4_GENERAL_CI, mariadbCapabilities: 0 }), sequenceId++));
      raw.off('data', onData);
      raw.off('close', onClose);
      socket = connectTls({ socket: raw, rejectUnauthorized: false });
      socket.on('data', onData);
      socket.on('close', onClose);
      socket.on('error', () => {});
      await new Promise<void>((resolve, reject) => {
        socket.once('secureConnect', resolve);
        socket.once('close', () => reject(new Error('wireLogin: TLS handshake failed')));
      });
    }
    const payload = o.rawResponse ? o.rawResponse(greeting) : handshakeResponse(greeting, o, caps);
    socket.write(framePacket(payload, sequenceId));
    for (;;) {
      const reply = await next();
      if (!reply) return done({ kind: 'closed' });
      if (reply.payload[0] === OK_HEADER) return done({ kind: 'ok' });
      if (reply.payload[0] === ERR_HEADER) return done(errorOf(reply, o.exact));
      if (isAuthSwitchRequest(reply.payload)) {
        const sw = parseAuthSwitchRequest(reply.payload);
        o.switches?.push(sw.pluginName);
        if (o.hangUpAtSwitch) return done({ kind: 'hung_up', plugin: sw.pluginName });
        const answer =
          sw.pluginName === 'mysql_native_password'
            ? scrambleNativePassword(o.password, sw.pluginData.subarray(0, SCRAMBLE_LENGTH))
            : Buffer.alloc(0);
        socket.write(framePacket(answer, (reply.sequenceId + 1) & 0xff));
        continue;
      }
      throw new Error(`wireLogin: unexpected packet 0x${reply.payload[0]?.toString(16)}`);
    }
  } catch (err) {
    socket.destroy();
    throw err;
  } finally {
    socket.off('data', onData);
    socket.off('close', onClose);
    socket.pause();
  }
}

/** The HandshakeResponse41 payload a raw client answers `greeting` with (`caps`: default a plain, uncompressed login). */
export function handshakeResponse(
  greeting: Greeting,
  o: Pick<WireLogin, 'user' | 'password' | 'plugin' | 'mariadbCapabilities' | 'charset' | 'database' | 'connectAttributes'>,
  caps = CAPS,
): Buffer {
  const plugin = o.plugin ?? 'mysql_native_password';
  const token =
    plugin === 'mysql_native_password' && o.password
      ? scrambleNativePassword(o.password, greeting.scramble.subarray(0, SCRAMBLE_LENGTH))
      : Buffer.from('x');
  const database = o.database === undefined ? null : Buffer.from(o.database);
  // Written with one-byte stand-ins, then the user's own bytes (and the database's) put in their places.
  const built = writeHandshakeResponse({
    capabilities: (caps | (database ? CLIENT_CONNECT_WITH_DB : 0)) >>> 0,
    maxPacketSize: 1 << 24,
    charset: o.charset ?? UTF8MB4_GENERAL_CI,
    mariadbCapabilities: o.mariadbCapabilities ?? 0,
    user: PLACEHOLDER,
    authResponse: token,
    database: database ? PLACEHOLDER : null,
    authPluginName: plugin,
    connectAttributes: o.connectAttributes ?? null,
  });
  const at = 32;
  if (!database) return Buffer.concat([built.subarray(0, at), o.user, built.subarray(at + 1)]);
  const db = at + 1 + 1 + 1 + token.length; // the user's stand-in and NUL, the token's length byte, the token
  return Buffer.concat([built.subarray(0, at), o.user, built.subarray(at + 1, db), database, built.subarray(db + 1)]);
}

function errorOf(p: Packet, exact = false): WireOutcome {
  const e = parseErrPacket(p.payload, CLIENT_PROTOCOL_41);
  return { kind: 'error', code: e.code, message: e.message, ...(exact ? { packet: `${p.sequenceId}:${p.payload.toString('hex')}` } : {}) };
}
