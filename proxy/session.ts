// One client from greeting to goodbye, as a story of small steps.
import type { Socket } from 'node:net';
import { CLIENT_SESSION_TRACK } from '../protocol/index.js';
import { relayPipe } from '../relay/pipe-relay.js';
import { limitKey, resolveRoute } from './routing.js';
import type { StoredCode } from '../accounts/stored-code.js';
import { helloAfterTls, helloFrom, sendGreeting } from './client-handshake.js';
import { checkCredentials } from './credential-check.js';
import { attachVerified } from './attach-backend.js';
import type { AttachedBackend, BorrowedBackend } from './attached-backend.js';
import { attachPassthrough } from './attach-passthrough.js';
import { relaySession } from '../relay/session-relay.js';
import { relayTransactions } from '../relay/transaction-relay.js';
import { countBytes, failSession, statementFailure } from './session-exit.js';
import { closeSoon } from '../socket/socket-ends.js';
import { SessionAbort, round, type SessionContext } from './session-context.js';
import type { BackendAddress } from '../backend/address.js';
import { SessionKill, type SessionIdentity } from './kill/session-kill.js';
import { CLIENT_COMPRESS } from '../protocol/index.js';
import { compressedClient } from '../socket/compressed-socket.js';
import { enterHolding, enterPinned, enterState } from './session-state.js';
import { endStalledAfterFin } from '../socket/socket-ends.js';
import { ComputeAtAccept } from './compute-at-accept.js';
import { PHASE } from './metrics.js';

/**
 * What the relay needs, and nothing more: the handshake's own state (the
 * client's hello, its attributes, the greetings) is garbage once bytes flow,
 * which keeps an idle held client cheap.
 */
interface ReadyBase {
  project: string | undefined;
  /** Bytes the client sent before the relay takes over. */
  clientLeftover: Buffer;
  /** Gives the project's connection slot back. */
  releaseSlot: (() => void) | undefined;
  /** Who the session is to the compute (KILL, stopping a statement its client left). */
  who: SessionIdentity;
}

/** Bytes flow untouched between the client and a compute connection of its own. */
interface PipedReady extends ReadyBase {
  kind: 'piped';
  backend: Socket;
  backendLeftover: Buffer;
  addr: BackendAddress;
  /** The compute's id for the connection. */
  thread: number;
}

/** A verified client on a pooled connection, for its session or per transaction: the borrowed one as attached, less the handshake's greeting. */
interface PooledReady extends ReadyBase, Pick<BorrowedBackend, 'kind' | 'pooling' | 'pooled' | 'borrow' | 'borrowAtOnce' | 'clientCapabilities'> {
  /** What the login's role answer said of the compute's stored code, and the project it is kept under. */
  storedCode: { key: string; said: StoredCode | undefined };
}

type Ready = PipedReady | PooledReady;

/** The server aborts a session's waits when its client's socket closes (SessionAbort.clientGone). */
export async function runSession(ctx: SessionContext): Promise<void> {
  let ready: Ready | null = null;
  try {
    // A compute connection opened at accept (passthrough), closed unless the login took it:
    // a client that left, sent nothing or was refused.
    const opening = ComputeAtAccept.open(ctx);
    const early = opening && (await opening);
    try {
      ready = await logIn(ctx, early);
    } finally {
      early?.close();
    }
    if (!ready) return;
    forgetHandshake(ctx);
    // Only a pooled (verified) session borrows per transaction; others keep one backend to the end.
    const why =
      ready.kind === 'pooled' && ready.pooling.mode === 'transaction' ? await carryTransactions(ctx, ready) : await carry(ctx, ready);
    countBytes(ctx);
    const { ready: r } = ctx;
    ctx.log.closed({
      readyMs: r?.readyMs,
      compute: r?.compute,
      auth: r?.auth,
      reason: ctx.killed ? 'killed' : why,
      durationMs: round(performance.now() - ctx.startedAt),
      bytesIn: ctx.socket.bytesRead,
      bytesOut: ctx.socket.bytesWritten,
    });
  } catch (err) {
    failSession(ctx, err);
  } finally {
    ready?.releaseSlot?.();
  }
}

/** Stands in for a relaying session's abort: nothing waits on its behalf any more. */
const RELAYING = new SessionAbort(true);

/**
 * A held client should cost little: what only the handshake needed (its
 * abort, the scramble) is let go once bytes flow.
 */
function forgetHandshake(ctx: SessionContext): void {
  ctx.abort = RELAYING;
  ctx.scramble = EMPTY;
}

const EMPTY = Buffer.alloc(0);

/** Greeting to OK: returns null when the compute refused the client (its ERR already sent). */
async function logIn(ctx: SessionContext, early: ComputeAtAccept | null): Promise<Ready | null> {
  const { metrics, limits } = ctx.cfg;
  const asking = ctx.cfg.controlGreeting?.beforeGreeting();
  if (asking) await asking;
  sendGreeting(ctx, early?.scramble);
  const first = await ctx.client.read(ctx.cfg.handshakeTimeoutMs, 'handshake response');
  const hello = helloFrom(ctx, first) ?? (await helloAfterTls(ctx));
  ctx.collation = hello.charset;
  const route = resolveRoute(ctx.cfg.routing, hello.user, hello.database, ctx.servername);
  ctx.log.bindLogin(route.project, route.backendUser, ctx.servername !== undefined);
  ctx.project = route.project;
  ctx.user = route.backendUser;
  let releaseSlot: (() => void) | undefined;
  limits.checkAuthFailures(limitKey(route), ctx.clientAddress);
  if (route.project) releaseSlot = limits.admitConnection(route.project);
  try {
    const checkStarted = performance.now();
    // Both sync for the usual pooled login: awaited only when they wait.
    const checked = checkCredentials(ctx, hello, route); // before any wake
    const creds = checked instanceof Promise ? await checked : checked;
    if (creds.kind === 'verified') metrics.connectPhase.observe(PHASE.auth, (performance.now() - checkStarted) / 1000);
    let backend: AttachedBackend | null;
    if (creds.kind === 'verified') {
      const attached = attachVerified(ctx, hello, route, creds);
      backend = attached instanceof Promise ? await attached : attached;
    } else backend = await attachPassthrough(ctx, hello, route, early);
    if (!backend) {
      if (route.project) limits.recordAuthFailure(route.project, ctx.clientAddress);
      metrics.connectionsRefused.inc({ reason: 'access_denied' });
      ctx.log.info({ reason: 'access_denied' }, 'authentication refused by compute');
      closeSoon(ctx.socket);
      releaseSlot?.();
      return null;
    }
    metrics.connectPhase.observe(PHASE.total, (performance.now() - ctx.startedAt) / 1000);
    ctx.cfg.profile.learn(backend.greeting);
    ctx.relaying = true;
    enterState(ctx, 'relaying');
    // At info a session writes one line, when it ends (as a TCP proxy's log does): at
    // thousands of connections a second a second line cost about 10 % of a connection's CPU.
    const ready = { readyMs: round(performance.now() - ctx.startedAt), compute: backend.addr.computeId, auth: creds.kind };
    ctx.ready = ready;
    ctx.log.debug(ready, 'session ready');
    // A client that half-closed is answered before the close, unless it also stops reading.
    endStalledAfterFin(ctx.socket, ctx.cfg.halfClosedWriteTimeoutMs);
    // From the login's OK on, a client that asked for compression speaks compressed packets.
    if (hello.capabilities & CLIENT_COMPRESS) {
      ctx.socket = compressedClient(ctx.socket, backend.clientLeftover);
      backend.clientLeftover = EMPTY;
    }
    const who: SessionIdentity = {
      pooled: backend.kind === 'pooled',
      user: route.backendUser,
      // Kept as a short string, like the pools' held login (attach-backend.ts).
      stage1: creds.kind === 'verified' ? creds.stage1.toString('latin1') : null,
    };
    const storedCode = { key: limitKey(route), said: creds.kind === 'verified' ? creds.storedCode : undefined };
    return readyFrom(backend, route.project, releaseSlot, who, storedCode);
  } catch (err) {
    releaseSlot?.();
    throw err;
  }
}

function readyFrom(
  backend: AttachedBackend,
  project: string | undefined,
  releaseSlot: (() => void) | undefined,
  who: SessionIdentity,
  storedCode: PooledReady['storedCode'],
): Ready {
  const { clientLeftover } = backend;
  if (backend.kind === 'own') {
    const { socket, backendLeftover, addr } = backend;
    return { kind: 'piped', project, clientLeftover, backend: socket, backendLeftover, addr, thread: backend.greeting.connectionId, releaseSlot, who };
  }
  const { pooling, pooled, borrow, borrowAtOnce, clientCapabilities } = backend;
  return { kind: 'pooled', project, clientLeftover, pooling, pooled, borrow, borrowAtOnce, clientCapabilities, releaseSlot, who, storedCode };
}

/**
 * Carry the session's bytes over one backend: a raw pipe, or a pooled backend that
 * goes back reset at the end. The session counts as activity for its whole length.
 */
async function carry(ctx: SessionContext, ready: Ready): Promise<string> {
  const untrack = ready.project ? ctx.cfg.activity?.track(ready.project, ctx.socket) : undefined;
  try {
    if (ready.kind === 'piped') return await carryPipe(ctx, ready);
    // No abort signal: a session ended from outside has its client socket destroyed, which ends the relay.
    const { pooled } = ready;
    const kill = new SessionKill(ctx, ready.who, pooled.key.addr, null);
    kill.held = pooled;
    ctx.target = kill;
    const outcome = await relaySession(ctx.socket, ready.clientLeftover, pooled, { sessionId: ctx.id, hook: kill, follow: pooled });
    if (outcome.statementRunning) await kill.stopStatement(pooled.key.addr, pooled.threadId);
    // A client that sent the compute nothing (a health check that logs in and quits) leaves
    // the connection as it was lent: no reset, unless init_connect ran for it, which only a
    // reset undoes before the next client's login runs it again.
    const untouched = !outcome.forwarded && pooled.initConnect === null;
    await ready.pooling.pools.release(pooled, { dirty: !outcome.reusable, reset: !untouched });
    return outcome.end;
  } finally {
    untrack?.();
  }
}

/** Pipe mode: the session's own compute connection, closed only once a statement its client left is stopped. */
async function carryPipe(ctx: SessionContext, ready: PipedReady): Promise<string> {
  const { addr, thread } = ready;
  const kill = new SessionKill(ctx, ready.who, addr, thread);
  ctx.target = kill;
  const outcome = await relayPipe(ctx.socket, ready.backend, ready.clientLeftover, ready.backendLeftover, { sessionId: ctx.id, hook: kill });
  if (outcome.statementRunning) {
    await kill.stopStatement(addr, thread);
    ready.backend.destroy();
  }
  return outcome.end;
}

/**
 * Transaction pooling: a backend is borrowed per transaction, so the session counts as
 * activity only while it holds one. A borrow that waits for a wake is stopped by the
 * relay's own signal when the client leaves.
 */
async function carryTransactions(ctx: SessionContext, ready: PooledReady): Promise<string> {
  const { activity, metrics, storedCode } = ctx.cfg;
  const { project, pooled, borrow } = ready;
  const { pools } = ready.pooling;
  if (!borrow) throw new Error('transaction pooling without a borrower');
  let untrack: (() => void) | undefined;
  // Follows the connection the session holds, and the compute it last held one of.
  const kill = new SessionKill(ctx, ready.who, pooled.key.addr, null);
  ctx.target = kill;
  // The compute's stored code that pins, shared with its other sessions here.
  const code = storedCode?.join(ready.storedCode.key, ready.storedCode.said);
  const { user } = ready.who;
  const outcome = await relayTransactions(ctx.socket, ready.clientLeftover, pooled, {
    capabilities: ready.clientCapabilities,
    clientTracks: (ready.clientCapabilities & CLIENT_SESSION_TRACK) !== 0,
    mariadbCapabilities: pooled.mariadbCapabilities,
    maxPacketSize: MAX_STATEMENT_PACKET,
    sessionId: ctx.id,
    hook: kill,
    channel: ctx.client.isParked ? ctx.client : null,
    // Options left undefined rather than spread in: one object shape for every session.
    statementsPerConnection: ready.pooling.statementsPerConnection || undefined,
    storedCode: code?.names,
    borrow,
    borrowAtOnce: ready.borrowAtOnce ?? undefined,
    giveBack: (backend, opts) => void pools.release(backend, opts),
    abandon: (backend) => void kill.stopStatement(backend.key.addr, backend.threadId).then(() => pools.release(backend, { dirty: true })),
    errorFor: (err) => {
      enterHolding(ctx, false);
      return statementFailure(ctx, err);
    },
    onHold: (backend) => {
      kill.held = backend;
      enterHolding(ctx, backend !== null);
      if (backend) {
        kill.addr = backend.key.addr;
        metrics.pending.poolBorrows.n++;
        if (project) untrack = activity?.track(project, ctx.socket);
        code?.borrowed(user, ctx.stateSince); // the clock enterHolding just read
      } else {
        untrack?.();
        untrack = undefined;
      }
    },
    onPin: (reason, detail) => {
      enterPinned(ctx, reason);
      metrics.sessionPins.inc({ reason });
      ctx.log.info({ reason, detail }, 'session pinned to its backend');
    },
  });
  untrack?.();
  if (code) storedCode!.leave(code);
  return outcome.end;
}

/** The largest client packet a transaction-pooled session takes (it is held whole while a backend is borrowed). */
const MAX_STATEMENT_PACKET = 64 * 1024 * 1024;
