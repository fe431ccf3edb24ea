// Verified: the session's compute connection when the proxy judged the client's password
// itself and logs in with the stage1 it recovered (the other way, passthrough, where the
// compute judges the client's answer, is attach-passthrough.ts). Here: borrowing from the
// pools or opening a connection of the session's own, the borrowers transaction mode
// keeps for later statements, and what a failed login tells the client. The checks
// before the client's OK are verified-login-checks.ts; the OK itself, login-ok.ts.
import { CLIENT_COMPRESS, CLIENT_SESSION_TRACK, connectAttributeBlock, type HandshakeResponse } from '../protocol/index.js';
import { BackendLoginError, loginBackend, poolCapabilities, type BackendKey, type BackendLogin } from '../backend/login.js';
import { OWN_CONNECTION_CAPABILITIES } from '../backend/capabilities.js';
import { PoolTimeoutError, type BackendPools, type KeyPoolMemo } from '../pool/backend-pool.js';
import type { PooledBackend } from '../pool/pooled-backend.js';
import type { BackendAddress } from '../backend/address.js';
import type { AbortWatch } from '../util/abort.js';
import { ClientError, ER_CON_COUNT_ERROR, computeUnavailable } from './client-error.js';
import { wakeAndConnect } from './wake-and-connect.js';
import { limitKey, type Route } from './routing.js';
import type { PoolsInUse, SessionContext } from './session-context.js';
import type { CredentialOutcome, MatchedAccount } from './credential-check.js';
import type { AttachedBackend, Borrow, BorrowAtOnce } from './attached-backend.js';
import { checkSourceAddress, initConnect, sourceAddressChanged } from './verified-login-checks.js';
import { loginOk } from './login-ok.js';
import { PHASE } from './metrics.js';

const EMPTY = Buffer.alloc(0);

/** A verified login being attached: what each step below needs. */
interface Attaching {
  ctx: SessionContext;
  hello: HandshakeResponse;
  route: Route;
  creds: Extract<CredentialOutcome, { kind: 'verified' }>;
  /** The capabilities the client and the proxy agreed on. */
  negotiated: number;
  /** Those a pooled connection for this client logs in with (poolCapabilities). */
  clientCapabilities: number;
}

/**
 * Verified: the proxy logs into the compute with stage1 (or borrows a pooled
 * connection already logged in as that user), then tells the client OK itself.
 * A sandboxed session (expired password) gets a connection of its own, never
 * pooled: it is destroyed at the end, whatever the session did to its password. So
 * does a session of an account with resource limits, which the compute must count as
 * it counts a direct client: a login per session, a connection while it lasts, and no
 * statement of the pool's.
 * Sync when an idle pooled connection is taken at once and needs nothing run on it:
 * a churned connection's usual login, with no promise on the way.
 */
export function attachVerified(
  ctx: SessionContext,
  hello: HandshakeResponse,
  route: Route,
  creds: Extract<CredentialOutcome, { kind: 'verified' }>,
): AttachedBackend | Promise<AttachedBackend> {
  const { profile, pooling } = ctx.cfg;
  const negotiated = (hello.capabilities & profile.capabilities) >>> 0;
  const a: Attaching = { ctx, hello, route, creds, negotiated, clientCapabilities: poolCapabilities(negotiated, route.database) };
  if (pooling.mode === 'pipe') return attachOwn(a);
  const own = ownConnectionReason(creds, negotiated);
  if (own) {
    ctx.cfg.metrics.ownConnections.inc(own);
    return attachOwn(a);
  }
  const transactions = pooling.mode === 'transaction';
  const key = keyTemplate(hello, route, a.clientCapabilities, profile.mariadbCapabilities, creds.account, transactions);
  const borrowAtOnce = idleBorrower(ctx, route, pooling.pools, key);
  // The compute's address cached and an idle connection ready (used within the ping interval):
  // taken at once, with no wake step, abort signal or promise in between.
  const idle = borrowAtOnce();
  if (idle) {
    const { connectPhase } = ctx.cfg.metrics;
    connectPhase.observe(PHASE.wake, 0);
    connectPhase.observe(PHASE.backendConnect, 0);
  }
  if (!idle || (idle.borrows > 1 && idle.initConnect)) return attachPooled(a, pooling, key, borrowAtOnce, idle);
  // Transaction mode borrows again for later statements; session mode keeps this one.
  const borrow = transactions ? keptBorrower(a, pooling, key) : null;
  return settle(a, pooledAttached(a, pooling, idle, borrow, transactions ? borrowAtOnce : null));
}

const OWN = {
  expiredPassword: { reason: 'expired_password' },
  resourceLimits: { reason: 'resource_limits' },
  clientFlags: { reason: 'client_flags' },
} as const;

/** Why a verified session in a pooled mode gets a connection of its own; null: it is pooled. */
function ownConnectionReason(creds: Attaching['creds'], negotiated: number): (typeof OWN)[keyof typeof OWN] | null {
  // A sandboxed (expired-password) session must never be lent on, whatever it did to its password.
  if (creds.sandboxed) return OWN.expiredPassword;
  // The compute counts the account's connections, logins or statements as a direct client's.
  if (creds.resourceLimited) return OWN.resourceLimits;
  // Flags no pooled connection can serve (backend/capabilities.ts).
  if ((negotiated & OWN_CONNECTION_CAPABILITIES) !== 0) return OWN.clientFlags;
  return null;
}

/** A pooled login that waits: for a borrow (and perhaps a wake), or for init_connect on the connection taken. */
async function attachPooled(
  a: Attaching,
  pooling: PoolsInUse,
  key: Omit<BackendKey, 'addr'>,
  borrowAtOnce: BorrowAtOnce,
  idle: PooledBackend | null,
): Promise<AttachedBackend> {
  const transactions = pooling.mode === 'transaction';
  let borrow: Borrow | null = null;
  let pooled = idle;
  if (!pooled) {
    borrow = keptBorrower(a, pooling, key);
    pooled = await borrow();
  }
  if (pooled.borrows > 1 && pooled.initConnect) await initConnect(a.ctx, a.route, pooling.pools, pooled, pooled.initConnect);
  // Transaction mode borrows again for later statements; session mode keeps this one.
  if (transactions) borrow ??= keptBorrower(a, pooling, key);
  return settle(a, pooledAttached(a, pooling, pooled, borrow, transactions ? borrowAtOnce : null));
}

/** The borrower a login keeps: stage1 held for logging in again when the pool has no connection to lend. */
function keptBorrower(a: Attaching, pooling: PoolsInUse, key: Omit<BackendKey, 'addr'>): Borrow {
  return pooledBorrower(a.ctx, a.route, pooling.pools, key, heldLogin(a.creds.stage1, loginOptions(a.ctx, null)));
}

function pooledAttached(a: Attaching, pooling: PoolsInUse, pooled: PooledBackend, borrow: Borrow | null, borrowAtOnce: BorrowAtOnce | null): AttachedBackend {
  const { clientCapabilities } = a;
  return { kind: 'pooled', addr: pooled.key.addr, greeting: pooled.greeting, pooling, pooled, borrow, borrowAtOnce, clientCapabilities, clientLeftover: EMPTY };
}

/** A connection of the session's own, logged in with stage1 (waking the compute if it sleeps). */
async function attachOwn(a: Attaching): Promise<AttachedBackend> {
  const { ctx, hello, route } = a;
  const ownKey = keyTemplate(hello, route, a.clientCapabilities, ctx.cfg.profile.mariadbCapabilities, a.creds.account, false);
  const login = await wakeAndConnect(ctx, route, {
    open: (addr, abort) => loginBackend(keyAt(ownKey, addr), a.creds.stage1, loginOptions(ctx, hello), abort),
    isFinal: isFinalLoginError,
  }).catch((err: unknown) => {
    throw loginFailure(ctx, route, err);
  });
  return settle(a, { kind: 'own', addr: login.addr, socket: login.socket, greeting: login.greeting, backendLeftover: EMPTY, clientLeftover: EMPTY });
}

/** The address the compute saw checked (when it is not the one the account was matched for), then the client's OK. */
function settle(a: Attaching, attached: AttachedBackend): AttachedBackend | Promise<AttachedBackend> {
  const actual = sourceAddressChanged(a.ctx, a.creds, attached);
  if (!actual) return answerOk(a, attached);
  return checkSourceAddress(a.ctx, a.route, a.creds, attached, actual).then(() => answerOk(a, attached));
}

function answerOk(a: Attaching, attached: AttachedBackend): AttachedBackend {
  const { ctx, hello } = a;
  // Transaction mode's relay takes the client's socket from the channel as it is (no
  // pause, no listener swap); a client that compresses gets a wrapper around it instead.
  const parks = attached.kind === 'pooled' && attached.pooling.mode === 'transaction' && (hello.capabilities & CLIENT_COMPRESS) === 0;
  attached.clientLeftover = parks ? ctx.client.park() : ctx.client.detach();
  ctx.client.write(loginOk(attached, a.negotiated), ctx.client.nextSequenceId);
  return attached;
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
    open: (addr: BackendAddress, abort: AbortWatch) => pools.acquire(keyAt(key, addr), login, abort),
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
 * per compute address, and the memo keeps its key pool: found once, not by its strings
 * at every borrow.
 */
function idleBorrower(ctx: SessionContext, route: Route, pools: BackendPools, key: Omit<BackendKey, 'addr'>): BorrowAtOnce {
  const project = limitKey(route);
  const { resolver, metrics } = ctx.cfg;
  let full: BackendKey | null = null;
  const memo: KeyPoolMemo = { pool: null };
  return () => {
    const addr = resolver.cached?.(project);
    if (!addr) return null;
    if (full?.addr !== addr) {
      full = keyAt(key, addr);
      memo.pool = null;
    }
    const got = pools.tryAcquire(full, memo);
    if (got) metrics.pending.wakesOk.n++;
    return got;
  };
}

/**
 * The pool key of a verified client (what makes a compute connection fit it), but
 * its compute's address, which each borrow fills in. Written out field by field, one
 * shape for every key: a spread with fields after it cost about 4 µs a login.
 */
function keyTemplate(
  hello: HandshakeResponse,
  route: Route,
  capabilities: number,
  profileExtended: number,
  account: MatchedAccount,
  tracked: boolean,
): Omit<BackendKey, 'addr'> {
  return {
    user: route.backendUser,
    database: route.database,
    // Transaction mode reads what each statement leaves in the session (relay/tracked-session.ts).
    capabilities: tracked ? (capabilities | CLIENT_SESSION_TRACK) >>> 0 : capabilities,
    mariadbCapabilities: hello.mariadbCapabilities & profileExtended,
    charset: hello.charset,
    account: `${account.user}@${account.host}/${account.accountVersion}`,
    // Always present, undefined when none: one object shape for every key.
    statementTime: account.statementTime,
    tracked,
  };
}

/** A key template at a compute's address. */
function keyAt(key: Omit<BackendKey, 'addr'>, addr: BackendAddress): BackendKey {
  return {
    addr,
    user: key.user,
    database: key.database,
    capabilities: key.capabilities,
    mariadbCapabilities: key.mariadbCapabilities,
    charset: key.charset,
    account: key.account,
    statementTime: key.statementTime,
    tracked: key.tracked,
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
    // The client's own block when unchanged: a pipe-mode login decoded and encoded it again (about 4 µs).
    connectAttributes: hello ? (connectAttributeBlock(hello) ?? hello.connectAttributes) : null,
    tls: ctx.cfg.backendTls,
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
