// The proxy logs into a compute itself, as the client's user, with the stage1 hash it
// recovered while verifying the client (proxy/verified-auth.ts): no password involved.
//
// Capability rule: a pooled connection is handed only to clients whose negotiated
// capabilities equal its own, so after the client's OK the relay can carry bytes
// untouched (result-set framing, EOF vs OK terminators, column metadata all depend on
// them). The capability set is therefore part of the pool key, and the login asks the
// compute for exactly that set: if the compute lacks any of it, the login fails rather
// than quietly negotiating less.
import type { Socket } from 'node:net';
import {
  CLIENT_CONNECT_WITH_DB,
  CLIENT_MYSQL,
  CLIENT_PROGRESS_OBSOLETE,
  CLIENT_PROTOCOL_41,
  CLIENT_REMEMBER_OPTIONS,
  CLIENT_SECURE_CONNECTION,
  CLIENT_SSL,
  ERR_HEADER,
  NATIVE_PASSWORD_PLUGIN,
  OK_HEADER,
  SCRAMBLE_LENGTH,
  isAuthSwitchRequest,
  parseAuthSwitchRequest,
  parseErrPacket,
  parseOkPacket,
  readSessionState,
  tokenFromStage1,
  writeHandshakeResponse,
  type ErrPacket,
  type Greeting,
} from '../protocol/index.js';
import {
  BackendRefusedError,
  BackendTlsError,
  connectBackend,
  secureBackend,
  type BackendConnection,
  type BackendTlsOptions,
} from './connect.js';
import type { BackendAddress } from './address.js';
import type { AbortWatch } from '../util/abort.js';
import { PER_HOP_CAPABILITIES } from './capabilities.js';

/** What makes two backend connections interchangeable. */
export interface BackendKey {
  addr: BackendAddress;
  /** The user as the compute knows it (project prefix already stripped). */
  user: string;
  database: string | null;
  /** What the client negotiated with the proxy, normalised by poolCapabilities(). */
  capabilities: number;
  /** MariaDB extended capabilities the client negotiated; 0 for MySQL clients. */
  mariadbCapabilities: number;
  /** Collation id from the client's handshake: COM_RESET_CONNECTION restores it. */
  charset: number;
  /**
   * The account row the proxy judged the login against (account@host and a digest of
   * its row). A connection logged in under an older row (another password, lock,
   * expiry, global privileges) is not lent to a login judged against the new one.
   */
  account?: string;
  /**
   * The account's MAX_STATEMENT_TIME, which its logins set and COM_RESET_CONNECTION
   * takes back (set again after each reset); absent when it has none. Not part of the
   * key's identity: the account's version already is.
   */
  statementTime?: string | undefined;
  /**
   * Transaction pooling: CLIENT_SESSION_TRACK is negotiated with the compute whatever
   * the client did, and the session trackers are on (backend/session-settings.ts).
   */
  tracked?: boolean;
}

/** A connection that finished its login; its socket is paused, with nothing unread. */
export interface LoggedInBackend {
  addr: BackendAddress;
  socket: Socket;
  greeting: Greeting;
  /**
   * The session-state block of the compute's login OK (its length prefix included), or
   * null when it sent none: what its trackers report at login (10.11: the schema when
   * the login names a database, no variables). The proxy's own login OK repeats it.
   */
  loginState: Buffer | null;
}

export type BackendLogin = (key: BackendKey, signal: AbortWatch) => Promise<LoggedInBackend>;

export type BackendLoginFailure = 'denied' | 'refused' | 'unsupported' | 'failed';

/**
 * Names the compute and the user, never a credential. `serverError` is the compute's own
 * ERR (1045 for a wrong stage1, 1040 too many connections, ...), fit to pass to the client.
 */
export class BackendLoginError extends Error {
  override readonly name = 'BackendLoginError';
  constructor(
    readonly kind: BackendLoginFailure,
    readonly compute: string,
    readonly user: string,
    detail: string,
    readonly serverError?: ErrPacket,
    options?: { cause?: unknown },
  ) {
    super(`login to compute ${compute} as '${user}' failed: ${detail}`, options);
  }
}

export interface NativeLoginOptions {
  /** Bound on connect + greeting + login together. */
  timeoutMs: number;
  maxPacketSize?: number;
  /**
   * Sent to the compute as the connection's attributes (shown in performance_schema):
   * pairs, or a block as a client sent it (connectAttributeBlock()), passed on without
   * being decoded and encoded again.
   */
  connectAttributes?: Array<[string, string]> | Buffer | null;
  /** TLS to the compute. */
  tls?: BackendTlsOptions;
}

/** Bits a compute's greeting may lack without changing what flows after login. */
const NOT_COMPARED = (CLIENT_MYSQL | CLIENT_CONNECT_WITH_DB | CLIENT_REMEMBER_OPTIONS | CLIENT_PROGRESS_OBSOLETE) >>> 0;
const DEFAULT_MAX_PACKET = 16 * 1024 * 1024;

/**
 * The pool-key capabilities for a client: what it negotiated with the proxy (its
 * handshake flags ANDed with the proxy's greeting), without per-hop bits, with
 * CLIENT_CONNECT_WITH_DB set exactly when a database is selected at login.
 */
export function poolCapabilities(negotiated: number, database: string | null): number {
  const caps = (negotiated & ~PER_HOP_CAPABILITIES & ~CLIENT_CONNECT_WITH_DB) >>> 0;
  return database ? (caps | CLIENT_CONNECT_WITH_DB) >>> 0 : caps;
}

export function describeCompute(addr: BackendAddress): string {
  const where = `${addr.host}:${addr.port}`;
  return addr.computeId ? `${addr.computeId} (${where})` : where;
}

/** A BackendLogin for mysql_native_password with a recovered stage1. */
export function nativeLogin(stage1: Buffer, opts: NativeLoginOptions): BackendLogin {
  return (key, signal) => loginBackend(key, stage1, opts, signal);
}

export async function loginBackend(
  key: BackendKey,
  stage1: Buffer,
  opts: NativeLoginOptions,
  signal?: AbortWatch,
): Promise<LoggedInBackend> {
  const compute = describeCompute(key.addr);
  const fail = (kind: BackendLoginFailure, detail: string, serverError?: ErrPacket, cause?: unknown) =>
    new BackendLoginError(kind, compute, key.user, detail, serverError, { cause });
  const deadline = Date.now() + opts.timeoutMs;
  let conn: BackendConnection;
  try {
    // connectBackend bounds the connect and the greeting by timeoutMs itself.
    conn = await connectBackend(key.addr, opts.timeoutMs, signal);
  } catch (err) {
    if (err instanceof BackendRefusedError) {
      const e = parseErrPacket(err.packet.payload, CLIENT_PROTOCOL_41);
      throw fail('refused', e.message, e, err);
    }
    throw fail('failed', (err as Error).message, undefined, err);
  }
  const onAbort = () => conn.socket.destroy();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    checkCapabilities(key, conn.greeting, fail);
    if (opts.tls) {
      const login = { capabilities: key.capabilities, mariadbCapabilities: key.mariadbCapabilities, charset: key.charset };
      conn = await secureBackend(conn, opts.tls, login, Math.max(1, deadline - Date.now()));
    }
    const loginState = await authenticate(conn, key, stage1, opts, deadline, fail);
    const leftover = conn.channel.detach();
    // Nothing may follow the OK before the first command; reading stops until a borrower resumes.
    conn.socket.pause();
    // Errors always end in 'close', which the pool watches; this keeps one from being thrown.
    conn.socket.on('error', ignore);
    if (leftover.length > 0) throw fail('failed', `${leftover.length} unexpected bytes after the login OK`);
    if (signal?.aborted) throw fail('failed', 'login abandoned');
    return { addr: key.addr, socket: conn.socket, greeting: conn.greeting, loginState };
  } catch (err) {
    conn.socket.destroy();
    if (err instanceof BackendLoginError) throw err;
    if (err instanceof BackendTlsError) throw fail('unsupported', err.message, undefined, err);
    const detail = signal?.aborted ? 'login abandoned' : (err as Error).message;
    throw fail('failed', detail, undefined, err);
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

type Fail = (kind: BackendLoginFailure, detail: string, serverError?: ErrPacket, cause?: unknown) => BackendLoginError;

function checkCapabilities(key: BackendKey, greeting: Greeting, fail: Fail): void {
  const required = CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION;
  if ((key.capabilities & required) !== required) {
    throw fail('unsupported', 'the client did not negotiate CLIENT_PROTOCOL_41 and CLIENT_SECURE_CONNECTION');
  }
  const missing = (key.capabilities & ~greeting.capabilities & ~NOT_COMPARED) >>> 0;
  const missingExtended = (key.mariadbCapabilities & ~greeting.mariadbCapabilities) >>> 0;
  if (missing || missingExtended) {
    const hex = (n: number) => `0x${n.toString(16)}`;
    throw fail(
      'unsupported',
      `the compute lacks capabilities the client negotiated (${hex(missing)}, extended ${hex(missingExtended)})`,
    );
  }
}

async function authenticate(
  conn: BackendConnection,
  key: BackendKey,
  stage1: Buffer,
  opts: NativeLoginOptions,
  deadline: number,
  fail: Fail,
): Promise<Buffer | null> {
  const { channel, greeting } = conn;
  const attributes = opts.connectAttributes ?? null;
  const block = Buffer.isBuffer(attributes) ? attributes : undefined;
  const pairs = Buffer.isBuffer(attributes) || attributes === null ? [] : attributes;
  channel.write(
    writeHandshakeResponse(
      {
        capabilities: (key.capabilities | (conn.tls ? CLIENT_SSL : 0)) >>> 0,
        maxPacketSize: opts.maxPacketSize ?? DEFAULT_MAX_PACKET,
        charset: key.charset,
        mariadbCapabilities: key.mariadbCapabilities,
        user: key.user,
        authResponse: tokenFromStage1(stage1, greeting.scramble.subarray(0, SCRAMBLE_LENGTH)),
        database: key.database,
        authPluginName: NATIVE_PASSWORD_PLUGIN,
        connectAttributes: pairs,
      },
      block,
    ),
    channel.nextSequenceId,
  );
  // At most one auth switch: to mysql_native_password with a fresh scramble.
  for (let round = 0; round < 2; round++) {
    const reply = await channel.read(Math.max(1, deadline - Date.now()), 'login reply');
    const header = reply.payload[0];
    if (header === OK_HEADER) return sessionStateOf(reply.payload, key.capabilities);
    if (header === ERR_HEADER) {
      // In the login's character set, as the compute converts its messages: read so, the client gets it back so.
      const e = parseErrPacket(reply.payload, key.capabilities, key.charset);
      throw fail(e.code === 1045 ? 'denied' : 'refused', `${e.code} (${e.sqlState}) ${e.message}`, e);
    }
    if (round === 0 && isAuthSwitchRequest(reply.payload)) {
      const sw = parseAuthSwitchRequest(reply.payload);
      if (sw.pluginName !== NATIVE_PASSWORD_PLUGIN) {
        throw fail(
          'unsupported',
          `the compute asks for auth plugin '${sw.pluginName}'; ` +
            `only ${NATIVE_PASSWORD_PLUGIN} can log in with a verifier`,
        );
      }
      const scramble = sw.pluginData.subarray(0, SCRAMBLE_LENGTH);
      channel.write(tokenFromStage1(stage1, scramble), channel.nextSequenceId);
      continue;
    }
    throw fail('failed', `unexpected login reply starting 0x${(header ?? 0).toString(16)}`);
  }
  throw fail('failed', 'the compute asked to switch auth plugins twice');
}

/**
 * A login OK's session-state block, read through first: a malformed one fails the login
 * rather than reach clients unread.
 */
function sessionStateOf(payload: Buffer, capabilities: number): Buffer | null {
  const state = parseOkPacket(payload, capabilities).sessionState;
  if (!state) return null;
  readSessionState(state, 0, state.length, { variable: ignore, schema: ignore, stateChanged: ignore, other: ignore });
  return state;
}

function ignore(): void {}
