// The two ways a session gets a logged-in compute connection: passthrough (the
// compute judges the client's answer: attach-passthrough.ts) and verified (the
// proxy logs in itself with the stage1 it recovered).
import type { Socket } from 'node:net';
import {
  CLIENT_SESSION_TRACK,
  SERVER_SESSION_STATE_CHANGED,
  SERVER_STATUS_AUTOCOMMIT,
  writeOkPacket,
  type OkPacket,
  type Greeting,
  type HandshakeResponse,
} from '../protocol/index.js';
import { BackendLoginError, loginBackend, poolCapabilities, type BackendKey, type BackendLogin } from '../backend/login.js';
import { PoolTimeoutError, type BackendPools } from '../pool/backend-pool.js';
import type { PooledBackend } from '../pool/pooled-backend.js';
import type { BackendAddress } from '../backend/address.js';
import { ClientError, ER_CON_COUNT_ERROR, accessDenied, computeUnavailable } from './client-error.js';
import { runInitConnect } from '../backend/health.js';
import { wakeAndConnect } from './wake-and-connect.js';
import { limitKey, type Route } from './routing.js';
import type { PoolsInUse, SessionContext } from './session-context.js';
import type { CredentialOutcome, MatchedAccount } from './credential-check.js';
import { pickAccount } from '../accounts/account-order.js';
import { serverUserName } from '../accounts/user-accounts.js';

interface Attached {
  addr: BackendAddress;
  greeting: Greeting;
  /** Bytes the client sent before the relay takes over. */
  clientLeftover: Buffer;
}

/** A compute connection of the session's own (passthrough, or verified in pipe mode). */
export interface OwnBackend extends Attached {
  kind: 'own';
  socket: Socket;
  /** Bytes the compute sent before the relay takes over. */
  backendLeftover: Buffer;
}

/** Borrows a pooled connection like the session's first, waking its compute if need be. */
export type Borrow = (signal?: AbortSignal) => Promise<PooledBackend>;

/**
 * A pooled connection like the session's first at once, without a promise: when the
 * compute's address is cached and an idle connection is ready (see BackendPools.tryAcquire).
 * Null: use Borrow.
 */
export type BorrowAtOnce = () => PooledBackend | null;

/** A pooled connection (verified, session or transaction mode): it goes back to `pooling.pools` at the end. */
export interface BorrowedBackend extends Attached {
  kind: 'pooled';
  pooling: PoolsInUse;
  pooled: PooledBackend;
  /** Another connection like `pooled`: transaction mode's later statements (null in session mode). */
  borrow: Borrow | null;
  /** Transaction mode only. */
  borrowAtOnce: BorrowAtOnce | null;
  /** What the client negotiated (pool-normalised): a tracked connection has CLIENT_SESSION_TRACK whatever the client did. */
  clientCapabilities: number;
}

export type AttachedBackend = OwnBackend | BorrowedBackend;

const EMPTY = Buffer.alloc(0);
const WAKE_PHASE = { phase: 'wake' } as const;
const CONNECT_PHASE = { phase: 'backend_connect' } as const;
/** What the server answers a login whose init_connect failed. */
const ER_NEW_ABORTING_CONNECTION = 1184;

/**
 * Verified: the proxy logs into the compute with stage1 (or borrows a pooled
 * connection already logged in as that user), then tells the client OK itself.
 * A sandboxed session (expired password) gets a connection of its own, never
 * pooled: it is destroyed at the end, whatever the session did to its password.
 */
export async function attachVerified(
  ctx: SessionContext,
  hello: HandshakeResponse,
  route: Route,
  creds: Extract<CredentialOutcome, { kind: 'verified' }>,
): Promise<AttachedBackend> {
  const { profile, pooling } = ctx.cfg;
  const { stage1 } = creds;
  const negotiated = (hello.capabilities & profile.capabilities) >>> 0;
  const key = keyTemplate(hello, route, negotiated, profile.mariadbCapabilities, creds.account);
  const clientCapabilities = key.capabilities;
  if (pooling.mode === 'transaction') {
    // The proxy reads what each statement leaves in the session (relay/tracked-session.ts).
    key.tracked = true;
    key.capabilities = (key.capabilities | CLIENT_SESSION_TRACK) >>> 0;
  }
  let attached: Omit<OwnBackend, 'clientLeftover'> | Omit<BorrowedBackend, 'clientLeftover'>;
  // A sandboxed (expired-password) session gets a connection of its own: it must never be lent on.
  if (pooling.mode !== 'pipe' && !creds.sandboxed) {
    const { pools } = pooling;
    const transactions = pooling.mode === 'transaction';
    const borrowAtOnce = idleBorrower(ctx, route, pools, key);
    // The compute's address cached and an idle connection ready (used within the ping interval):
    // taken at once, with no wake step, abort signal or promise in between.
    let pooled = borrowAtOnce();
    let borrow: Borrow | null = null;
    if (pooled) {
      const { connectPhase } = ctx.cfg.metrics;
      connectPhase.observe(WAKE_PHASE, 0);
      connectPhase.observe(CONNECT_PHASE, 0);
    } else {
      borrow = pooledBorrower(ctx, route, pools, key, heldLogin(stage1, loginOptions(ctx, null)));
      pooled = await borrow();
    }
    if (pooled.borrows > 1 && pooled.initConnect) await initConnect(ctx, route, pools, pooled, pooled.initConnect);
    // Transaction mode borrows again for later statements; session mode keeps this one.
    if (transactions) borrow ??= pooledBorrower(ctx, route, pools, key, heldLogin(stage1, loginOptions(ctx, null)));
    attached = {
      kind: 'pooled',
      addr: pooled.key.addr,
      greeting: pooled.greeting,
      pooling,
      pooled,
      borrow,
      borrowAtOnce: transactions ? borrowAtOnce : null,
      clientCapabilities,
    };
  } else {
    const login = await wakeAndConnect(ctx, route, {
      open: (addr, signal) => loginBackend({ ...key, addr }, stage1, loginOptions(ctx, hello), signal),
      isFinal: isFinalLoginError,
    }).catch((err: unknown) => {
      throw loginFailure(ctx, route, err);
    });
    attached = { kind: 'own', addr: login.addr, socket: login.socket, greeting: login.greeting, backendLeftover: EMPTY };
  }
  const actual = sourceAddressChanged(ctx, creds, attached);
  if (actual) await checkSourceAddress(ctx, route, creds, attached, actual);
  const clientLeftover = ctx.client.detach();
  ctx.client.write(loginOk(attached, negotiated), ctx.client.nextSequenceId);
  return { ...attached, clientLeftover };
}

/**
 * A reused connection missed the init_connect the server runs at each login for users
 * without CONNECTION ADMIN or SUPER: run for this client, as its login would have. A
 * failure refuses the login, as the server does (1184), and the connection goes.
 */
async function initConnect(ctx: SessionContext, route: Route, pools: BackendPools, pooled: PooledBackend, sql: string): Promise<void> {
  try {
    await runInitConnect(pooled, sql, ctx.cfg.connectTimeoutMs);
  } catch (err) {
    await pools.release(pooled, { dirty: true });
    const message = `Aborted connection ${ctx.id} to db: '${route.database ?? 'unconnected'}' user: '${route.backendUser}' host: '${ctx.clientAddress}' (init_connect command failed)`;
    throw new ClientError(ER_NEW_ABORTING_CONNECTION, '08S01', message, 'init_connect_failed', { cause: err });
  }
}

/**
 * The OK that ends a verified login. To a client that negotiated CLIENT_SESSION_TRACK it
 * repeats the session-state block of the pooled connection's own login OK, as a direct
 * login would get it: a driver reads its connection charset there and otherwise sets it
 * with a statement (the npm mariadb connector's `SET NAMES utf8mb4`, which changes the
 * collation), so reporting what the compute does not would give the client another
 * session than a direct login.
 */
function loginOk(attached: { kind: string; pooled?: PooledBackend }, negotiated: number): Buffer {
  const state = negotiated & CLIENT_SESSION_TRACK ? (attached.pooled?.loginState ?? null) : null;
  // The same few bytes for every client of a connection: made once per connection (its login state) and capability set.
  const made = loginOks.get(state ?? NO_REPORT);
  let ok = made?.get(negotiated);
  if (ok) return ok;
  const packet: OkPacket = { affectedRows: 0, lastInsertId: 0, statusFlags: SERVER_STATUS_AUTOCOMMIT, warnings: 0, info: '' };
  if (state) {
    packet.statusFlags |= SERVER_SESSION_STATE_CHANGED;
    packet.sessionState = state;
  }
  ok = writeOkPacket(packet, negotiated);
  if (made) made.set(negotiated, ok);
  else loginOks.set(state ?? NO_REPORT, new Map([[negotiated, ok]]));
  return ok;
}

/** Login OKs by the login state they repeat (NO_REPORT: none) and the client's capabilities; written, never changed. */
const loginOks = new WeakMap<object, Map<number, Buffer>>();
const NO_REPORT = {};

/**
 * The account was matched for the address the proxy expected to connect from: learn
 * the address the connection came from, and return it if it is another (else null).
 */
function sourceAddressChanged(
  ctx: SessionContext,
  creds: Extract<CredentialOutcome, { kind: 'verified' }>,
  attached: Omit<OwnBackend, 'clientLeftover'> | Omit<BorrowedBackend, 'clientLeftover'>,
): string | null {
  const socket = attached.kind === 'pooled' ? attached.pooled.socket : attached.socket;
  const actual = ctx.cfg.sourceAddress.learn(socket.localAddress);
  return actual && actual !== creds.sourceIp ? actual : null;
}

/**
 * The connection came from another address than the account was matched for, so the
 * compute may have picked another account: if the match differs, end the connection
 * and refuse rather than run the client as an account it was not judged for.
 */
async function checkSourceAddress(
  ctx: SessionContext,
  route: Route,
  creds: Extract<CredentialOutcome, { kind: 'verified' }>,
  attached: Omit<OwnBackend, 'clientLeftover'> | Omit<BorrowedBackend, 'clientLeftover'>,
  actual: string,
): Promise<void> {
  const accounts = await ctx.cfg.verifiers?.get(limitKey(route), route.backendUser, ctx.abort.signal).catch(() => undefined);
  const again = accounts && pickAccount(accounts.candidates, serverUserName(route.backendUser), actual);
  if (again && again.user === creds.account.user && again.host === creds.account.host) return;
  ctx.log.warn({ expected: creds.sourceIp, actual }, 'compute saw another source address than the login was judged for; refused');
  if (attached.kind === 'pooled') await attached.pooling.pools.release(attached.pooled, { dirty: true });
  else attached.socket.destroy();
  throw accessDenied(route.backendUser, actual, true);
}

/**
 * Borrows a pooled, logged-in connection for a verified client, waking its compute
 * if it sleeps: for the login, and in transaction mode for every later statement
 * (so it keeps only what a borrow needs, not the client's handshake). `signal`
 * stops a wait (default: the session's). Rejects with a ClientError fit for the client.
 */
function pooledBorrower(
  ctx: SessionContext,
  route: Route,
  pools: BackendPools,
  key: Omit<BackendKey, 'addr'>,
  login: BackendLogin,
): Borrow {
  const opener = {
    open: (addr: BackendAddress, signal: AbortSignal) => pools.acquire({ ...key, addr }, login, signal),
    connectingState: 'waiting_for_connection' as const,
    // A dropped compute (suspended under the pool) merits one more wake, like a failed connect.
    isFinal: isFinalLoginError,
    onRetry: (addr: BackendAddress) => void pools.dropCompute(addr),
  };
  return (signal) =>
    wakeAndConnect(ctx, route, opener, signal).catch((err: unknown) => {
      throw loginFailure(ctx, route, err);
    });
}

/**
 * Borrow's shortcut, for a pooled login and transaction mode's statements: no wake to
 * wait for, no connection to check. Counted as a resolution like Borrow's; a login
 * counts its connect phases itself (a statement has none). The full key is made once
 * per compute address, so the pool finds its key pool by object.
 */
function idleBorrower(ctx: SessionContext, route: Route, pools: BackendPools, key: Omit<BackendKey, 'addr'>): BorrowAtOnce {
  const project = limitKey(route);
  const { resolver, metrics } = ctx.cfg;
  let full: BackendKey | null = null;
  return () => {
    const addr = resolver.cached?.(project);
    if (!addr) return null;
    if (full?.addr !== addr) full = { ...key, addr };
    const got = pools.tryAcquire(full);
    if (got) metrics.pending.wakesOk.n++;
    return got;
  };
}

/**
 * The pool key of a verified client (what makes a compute connection fit it), but
 * its compute's address, which each borrow fills in.
 */
function keyTemplate(
  hello: HandshakeResponse,
  route: Route,
  negotiated: number,
  profileExtended: number,
  account: MatchedAccount,
): Omit<BackendKey, 'addr'> {
  return {
    user: route.backendUser,
    database: route.database,
    capabilities: poolCapabilities(negotiated, route.database),
    mariadbCapabilities: hello.mariadbCapabilities & profileExtended,
    charset: hello.charset,
    account: `${account.user}@${account.host}/${account.accountVersion}`,
  };
}

/**
 * The login a session keeps for later borrows (transaction mode logs in again when its
 * pool is empty). stage1 is kept as a short string on the JS heap: a Buffer view would
 * pin a shared 8 KiB slab per held client, and an own Buffer a native allocation each.
 * A pooled connection outlives the client whose login made it, so `opts` carries no
 * client connection attributes.
 */
function heldLogin(stage1: Buffer, opts: ReturnType<typeof loginOptions>): BackendLogin {
  const kept = stage1.toString('latin1');
  return (key, signal) => loginBackend(key, Buffer.from(kept, 'latin1'), opts, signal);
}

function loginOptions(ctx: SessionContext, hello: HandshakeResponse | null) {
  return {
    timeoutMs: ctx.cfg.connectTimeoutMs,
    connectAttributes: hello?.connectAttributes ?? null,
    ...(ctx.cfg.backendTls ? { tls: ctx.cfg.backendTls } : {}),
  };
}

function isFinalLoginError(err: unknown): boolean {
  return (err instanceof BackendLoginError && err.kind !== 'failed') || err instanceof PoolTimeoutError;
}

/**
 * The compute refused a login the verifier allowed: the verifier is stale (the
 * password changed). Forget it and pass the compute's own error on.
 */
export function loginFailure(ctx: SessionContext, route: Route, err: unknown): unknown {
  if (err instanceof PoolTimeoutError) {
    return new ClientError(ER_CON_COUNT_ERROR, '08004', `Too many connections: ${err.message}`, 'pool_timeout', { cause: err });
  }
  if (!(err instanceof BackendLoginError)) return err;
  if (!err.serverError) return computeUnavailable(limitKey(route), err.message, `backend_login_${err.kind}`, err);
  if (err.kind === 'denied') ctx.cfg.verifiers?.invalidate(limitKey(route), route.backendUser);
  const e = err.serverError;
  return new ClientError(e.code, e.sqlState, e.message, err.kind === 'denied' ? 'access_denied' : 'backend_refused', { cause: err });
}
