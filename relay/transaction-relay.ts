// Transaction pooling's relay: a client holds a backend only while a statement runs or a
// transaction is open, so an idle client holds none and its compute may sleep; its next
// statement borrows a backend again (waking the compute if need be).
//
// Client bytes are cut into whole packets (client packets are small, and a held-back
// command must be sent whole to whichever backend comes). Server bytes are relayed as
// they come while a ReplyTracker finds where each reply ends and what its status says.
// After a reply, with nothing else pending, no transaction open and autocommit on, the
// backend goes back to the pool without a reset: nothing was left on it.
//
// Backends are tracked (backend/session-settings.ts): the compute reports what each
// statement changed in the session, and the client's own settings (charsets, collation,
// time zone, sql_mode, isolation, read-only, database) are remembered and replayed on
// the next backend it borrows, as soon as it is borrowed, when that backend's differ
// (tracked-session.ts). What the trackers cannot describe, or the text says they miss
// (pin-rules.ts), pins the backend to the client for the rest of its session; so does
// any command other than COM_QUERY, COM_PING, COM_RESET_CONNECTION, COM_INIT_DB and the
// prepared-statement commands (COM_CHANGE_USER, COM_FIELD_LIST, ...). A pinned session
// keeps its backend, and it is reset when the client quits; replies are still followed
// (flagged OKs rewritten for a client without CLIENT_SESSION_TRACK), unless a command
// pinned it (the proxy does not know every command's reply), which leaves it relayed
// untouched once the trackers are off again.
//
// Binary prepared statements do not pin (statement-router.ts): statement ids are the
// proxy's, translated in place, and a statement is prepared on whichever backend is
// held when it is used. The proxy reads the replies to the prepares it sends (the
// client's own, id rewritten and passed on; those made again on another backend,
// swallowed) whole, once no other reply is pending, holding the client's later
// commands meanwhile.
//
// With no backend held, COM_PING and COM_RESET_CONNECTION are answered here (a pool's
// keep-alive pings must not wake a sleeping compute), and COM_QUIT just closes. Holding
// one, COM_QUIT closes once the replies to what came before it are relayed (counted by
// the reply tracker; pinned, up to a fence: reply-fence.ts), as MariaDB answers, then closes.
//
// KILL and a bare SELECT CONNECTION_ID() carry the session's id, not a compute's
// (intercepted-command.ts): holding no backend, the session answers them itself
// where it can (no wake); holding one, it sends the compute a statement in their place.
// A client that leaves while its statement runs hands the backend to `abandon`, which
// stops the statement before the connection goes anywhere.
import type { Socket } from 'node:net';
import {
  CLIENT_PROTOCOL_41,
  COM_CHANGE_USER,
  COM_INIT_DB,
  COM_PING,
  COM_QUERY,
  COM_QUIT,
  COM_RESET_CONNECTION,
  COM_STMT_SEND_LONG_DATA,
  PacketFramer,
  ProtocolError,
  ReplyTracker,
  writeComInitDb,
  writeComQuery,
  SERVER_STATUS_AUTOCOMMIT,
  SERVER_STATUS_IN_TRANS,
  commandName,
  firstSequenceId,
  framePacket,
  isStatementCommand,
  writeErrPacket,
  writeOkPacket,
  type ErrPacket,
  type Packet,
  type ReplyEnd,
} from '../protocol/index.js';
import type { ReleaseOptions } from '../pool/backend-pool.js';
import { judgeQuery, type PinReason, type QueryVerdict } from './pin-rules.js';
import { interceptCommand, mayIntercept, type KillAction, type KillHook } from './intercepted-command.js';
import { idleStatus, settleConnectionId, settleKill, type Disposal, type ReplyContext } from './command-answers.js';
import type { PooledBackend } from '../pool/pooled-backend.js';
import type { SessionEnd } from './session-relay.js';
import { TrackedSession } from './tracked-session.js';
import { TRACKING_OFF, adoptSettings, copySettings, parseContext, replaySql } from '../backend/session-settings.js';
import { destroyLater, endOnce } from '../socket/socket-ends.js';
import { ReplyFence } from './reply-fence.js';
import type { ClientStatement } from './client-statements.js';
import { forgetStatements } from './connection-statements.js';
import { DEFAULT_STATEMENTS_PER_CONNECTION } from './statement-router.js';
import { StatementRelay, type StatementHost } from './statement-relay.js';
import { queueFin } from './client-fin.js';

export interface TransactionRelayOptions {
  /** What the client negotiated; pooled backends have the same (see backend/login.ts), CLIENT_SESSION_TRACK aside when tracked. */
  capabilities: number;
  /** The client negotiated CLIENT_SESSION_TRACK (tracked backends: else their OKs are rewritten without session state). */
  clientTracks: boolean;
  mariadbCapabilities: number;
  /** Largest client packet accepted (continuations joined); beyond it the session ends with 1153. */
  maxPacketSize: number;
  /** A backend for the client's next statement, waking the compute if it sleeps; `signal` aborts the wait. */
  borrow(signal: AbortSignal): Promise<PooledBackend>;
  /** A backend at once when one is ready (no wake, no check, no wait), else null: borrow() then. */
  borrowAtOnce?(): PooledBackend | null;
  giveBack(backend: PooledBackend, opts: ReleaseOptions): void;
  /** The ERR that answers a statement no backend could be borrowed for. */
  errorFor(err: unknown): ErrPacket;
  /** The session starts holding `backend`, or (null) stops holding one. */
  onHold?(backend: PooledBackend | null): void;
  /** Called once, when the session gets pinned. */
  onPin?(reason: PinReason, detail: string): void;
  /** The id the client was given: a bare SELECT CONNECTION_ID() answers it. */
  sessionId: number;
  /** Decides KILLs; without one they pass untouched. */
  hook?: KillHook;
  /**
   * The client left while `backend` may be running its statement: stop it, then release
   * the backend dirty. Without it the backend is released dirty at once.
   */
  abandon?(backend: PooledBackend): void;
  /** Binary prepared statements kept per compute connection (least recently used closed first). */
  statementsPerConnection?: number;
}

export interface TransactionOutcome {
  end: SessionEnd;
  /** Times a backend was borrowed, the login's included. */
  borrows: number;
  pinned: PinReason | null;
}

const NOTHING_PINNED: QueryVerdict = { pin: null, autocommitOnly: false };
const DATABASE_CHANGED: QueryVerdict = { pin: 'use_database', autocommitOnly: false };
/** The client's own COM_RESET_CONNECTION on a held backend (tracked: see replied()). */
const CLIENT_RESET: QueryVerdict = { pin: null, autocommitOnly: false };
const TOO_LARGE = { code: 1153, sqlState: '08S01', message: "Got a packet bigger than 'max_allowed_packet' bytes" };
/** Stands in for a KILL decision that failed unexpectedly (a bug): the client gets an error, never a raw KILL. */
const KILL_FAILED: KillAction = {
  kind: 'error',
  error: { code: 1105, sqlState: 'HY000', message: 'wake-proxy: could not carry out this KILL; see the proxy log' },
};

/** `first` is the backend the login borrowed: it goes back at once, and the first statement borrows again. */
export function relayTransactions(
  client: Socket,
  clientLeftover: Buffer,
  first: PooledBackend,
  o: TransactionRelayOptions,
): Promise<TransactionOutcome> {
  return new Promise<TransactionOutcome>((resolve) => new TransactionRelay(client, o, resolve).start(first, clientLeftover));
}

/**
 * One session's relay. A class rather than closures: thousands of idle clients may
 * be held, and each should cost a few fields, not a score of functions.
 */
class TransactionRelay implements StatementHost {
  private readonly framer: PacketFramer;
  readonly queue: Packet[] = [];
  /** What each pending reply's statement said about state, in order; a prepared statement's reply, its statement. */
  private readonly verdicts: Array<QueryVerdict | ClientStatement> = [];
  private backend: PooledBackend | null = null;
  /** Present while a backend is held and the session is not pinned. */
  private tracker: ReplyTracker | null = null;
  private status = SERVER_STATUS_AUTOCOMMIT;
  private pinned: PinReason | null = null;
  private changedUser = false;
  /** Set while a borrow is under way; aborted if the session ends meanwhile. */
  private borrowing: AbortController | null = null;
  /** Set while a KILL is being decided: the queue waits. */
  private deciding = false;
  /** The queued packet already looked at for interception (it goes on as it is). */
  private vetted: Packet | null = null;
  /** Pinned (no reply tracking): a command went and nothing came back since. */
  private awaiting = false;
  private lastCommand = -1;
  private borrows = 0;
  private ended = false;
  /** The client's settings and the trackers' reader; null for untracked backends. */
  private tracked: TrackedSession | null = null;
  /** Pinned with the tracker still reading: the queue waits until the proxy's own replies are in. */
  private draining = false;
  /** The client reset the held backend's session: it goes back through the pool's reset. */
  private resetOnRelease = false;
  /** The client said COM_QUIT while replies were pending: it ends once they are relayed. */
  private quitting = false;
  /** Untracked (pinned by a command), the same: the fence marks where the client's replies end (reply-fence.ts). */
  private fence: ReplyFence | null = null;
  /** Made at the first prepared-statement command. */
  private statements: StatementRelay | null = null;

  private readonly onClientData = (chunk: Buffer) => this.fromClient(chunk);
  private readonly onClientDrain = () => this.backend?.socket.resume();
  // After its COM_QUIT a client that closes has said goodbye: its replies are still awaited (see quit()),
  // read on (a backend paused on the client's backpressure would wait for a drain that never comes).
  private readonly onClientClose = () => {
    if (!this.quitting && !this.fence) this.end('client_closed');
    else this.backend?.socket.resume();
  };
  private readonly onClientError = () => {
    if (!this.quitting && !this.fence) this.end('client_error');
    else this.backend?.socket.resume();
  };
  // A FIN ends the client's commands as COM_QUIT does (client-fin.ts); mid-LOAD DATA the file is cut short: gone.
  private readonly onClientEnd = () => {
    if (this.tracker?.awaitingInfile) return this.end('client_closed');
    queueFin(this.queue);
    this.pump();
  };
  private readonly onServerData = (chunk: Buffer) => this.fromServer(chunk);
  private readonly onServerDrain = () => {
    if (!this.blocked && !this.ended) this.client.resume();
  };
  private readonly onServerClose = () => {
    // Whatever a fence held back was the client's.
    if (this.fence && !this.ended && !this.client.destroyed) this.client.write(this.fence.rest());
    this.end('backend_closed');
  };
  private readonly onServerError = () => this.end('backend_error');
  private readonly onReply = (reply: ReplyEnd) => this.replied(reply);

  constructor(
    private readonly client: Socket,
    private readonly opts: TransactionRelayOptions,
    private readonly resolve: (outcome: TransactionOutcome) => void,
  ) {
    this.framer = new PacketFramer(opts.maxPacketSize);
  }

  start(first: PooledBackend, clientLeftover: Buffer): void {
    const { client } = this;
    const login = first.tracked ? first.loginSettings : null;
    if (login) this.tracked = new TrackedSession(copySettings(login), !this.opts.clientTracks, login.database === null, this.verdicts);
    client.on('close', this.onClientClose);
    client.on('error', this.onClientError);
    client.on('drain', this.onClientDrain);
    this.hold(first, false);
    if (client.destroyed) return this.end('client_closed');
    this.letGo({ dirty: false, reset: false });
    if (clientLeftover.length > 0) this.fromClient(clientLeftover);
    if (this.ended) return;
    client.on('data', this.onClientData);
    client.on('end', this.onClientEnd);
    if (client.readableEnded) this.onClientEnd();
    else client.resume();
  }

  private end(why: SessionEnd): void {
    if (this.ended) return;
    this.ended = true;
    const { client } = this;
    client.off('data', this.onClientData);
    client.off('end', this.onClientEnd);
    client.off('drain', this.onClientDrain);
    client.off('close', this.onClientClose);
    client.off('error', this.onClientError);
    client.on('error', ignore);
    this.borrowing?.abort(new Error('client went away'));
    if (this.backend) {
      // Reset whatever it holds (an open transaction, pinned state); a client gone mid-stream makes it unusable.
      const mid = (this.tracker?.pending ?? 0) > 0 || this.framer.buffered > 0 || this.statements?.reading === true;
      const gone = why === 'client_closed' || why === 'client_error';
      if (gone && this.opts.abandon && this.statementRunning()) this.opts.abandon(this.forget(this.detach()));
      else this.letGo({ dirty: why !== 'client_quit' || this.changedUser || mid, reset: true });
    }
    if (why === 'client_closed' || why === 'client_error') client.destroy();
    else {
      endOnce(client);
      destroyLater(client);
    }
    this.resolve({ end: why, borrows: this.borrows, pinned: this.pinned });
  }

  private fromClient(chunk: Buffer): void {
    let packets: Packet[];
    try {
      packets = this.framer.push(chunk);
    } catch (err) {
      if (err instanceof ProtocolError && /exceeds max_packet_size/.test(err.message)) {
        this.client.write(framePacket(writeErrPacket(TOO_LARGE, CLIENT_PROTOCOL_41), 1));
      }
      return this.end('client_error');
    }
    for (const p of packets) this.queue.push(p);
    this.pump();
  }

  /** Send queued client packets on, borrowing a backend when a command needs one. */
  private pump(): void {
    const { queue } = this;
    while (queue.length > 0 && !this.blocked && !this.ended) {
      const p = queue[0]!;
      const command = this.commandOf(p);
      if (command === COM_QUIT) return this.quit();
      if (command >= 0 && isStatementCommand(command)) {
        this.statements ??= new StatementRelay(this, this.opts.statementsPerConnection ?? DEFAULT_STATEMENTS_PER_CONNECTION);
        if (this.statements.step(p, command)) continue;
        return;
      }
      if (command >= 0 && p !== this.vetted && mayIntercept(command, p.payload[1] ?? -1, p.payload.length, true)) {
        this.intercept(p);
        continue;
      }
      if (!this.backend) {
        if (command < 0) return this.end('client_error'); // bytes outside any command: out of step
        if (command === COM_PING || command === COM_RESET_CONNECTION) {
          if (command === COM_RESET_CONNECTION) this.statements?.table.clear();
          queue.shift();
          if (command === COM_RESET_CONNECTION) this.tracked?.backToLogin();
          this.client.write(framePacket(okPayload(this.opts.capabilities), (p.sequenceId + 1) & 0xff));
          continue;
        }
        if (this.borrowSoon()) continue;
        return;
      }
      if (!this.send(p, command)) return;
    }
    // Commands that need no reply (COM_STMT_CLOSE, long data) may leave the backend with nothing to wait for.
    const t = this.tracker;
    if (queue.length === 0 && this.backend && t && t.pending === 0 && !t.awaitingInfile && !this.blocked && !this.ended && this.mayLetGo()) {
      this.letGo({ dirty: false, reset: false });
    }
  }

  /** The command byte of a packet that starts a command, else -1. */
  private commandOf(p: Packet): number {
    if (this.tracker?.awaitingInfile || p.payload.length === 0) return -1;
    return firstSequenceId(p) === 0 ? p.payload[0]! : -1;
  }

  /** Sends the queue's head on; false when it must wait (its pin waits for the proxy's own replies). */
  private send(p: Packet, command: number): boolean {
    const b = this.backend!;
    if (this.tracker?.awaitingInfile && p.payload.length === 0) this.tracker.infileSent();
    if (command >= 0) {
      this.judge(p, command);
      if (this.draining) return false;
      this.lastCommand = command;
    }
    this.queue.shift();
    this.awaiting = true;
    if (!b.socket.write(framePacket(p.payload, firstSequenceId(p)))) this.client.pause();
    return true;
  }

  /**
   * The client's settings onto a backend just borrowed, when they differ: written at once,
   * ahead of whatever the client sends on it (a statement, an execute, a prepare, which
   * waits for their replies), read and dropped by the tracker.
   */
  private replay(b: PooledBackend): void {
    const wanted = this.tracked!.settings;
    const current = b.settings!;
    const commands: Buffer[] = [];
    if (wanted.database !== null && wanted.database !== current.database) commands.push(writeComInitDb(wanted.database));
    const sql = replaySql(wanted, current);
    if (sql) commands.push(writeComQuery(sql));
    if (commands.length === 0) return;
    adoptSettings(current, wanted);
    for (const c of commands) {
      this.tracker!.expect(true);
      b.socket.write(framePacket(c, 0));
    }
  }

  private judge(p: Packet, command: number): void {
    if (command === COM_CHANGE_USER) this.changedUser = true;
    if (command === COM_CHANGE_USER || command === COM_RESET_CONNECTION) {
      // The compute drops every prepared statement of the connection.
      this.statements?.table.clear();
      this.forget(this.backend!);
    }
    const { tracker } = this;
    if (!tracker) return; // pinned: relayed untouched
    const tracked = this.tracked !== null;
    let verdict: QueryVerdict;
    if (command === COM_QUERY) verdict = judgeQuery(p.payload.subarray(1), tracked);
    else if (command === COM_PING) verdict = NOTHING_PINNED;
    else if (command === COM_RESET_CONNECTION) verdict = CLIENT_RESET;
    // Tracked: the reply reports the schema (replayed; a pin if the client logged in without one).
    else if (command === COM_INIT_DB) verdict = tracked ? NOTHING_PINNED : DATABASE_CHANGED;
    else return this.pin('command', commandName(command));
    // Tracked, a statement that pins by its text pins before it goes (SET profiling=1 records what follows).
    if (tracked && verdict.pin) this.pin(verdict.pin, 'statement text');
    this.verdicts.push(verdict);
    tracker.expect();
  }

  // StatementHost: what the statement side (statement-relay.ts) uses of this relay.

  get held(): PooledBackend | null {
    return this.backend;
  }

  get replies(): ReplyTracker | null {
    return this.tracker;
  }

  get capabilities(): number {
    return this.opts.capabilities;
  }

  toCompute(payload: Buffer, sequenceId: number, command: number, reply: ClientStatement | null | undefined, rowsOnly: boolean): void {
    this.awaiting = true;
    this.lastCommand = command;
    const t = this.tracker;
    if (reply !== undefined && t) {
      this.verdicts.push(reply ?? NOTHING_PINNED);
      if (rowsOnly) t.expectRows();
      else t.expect();
    }
    if (!this.backend!.socket.write(framePacket(payload, sequenceId))) this.client.pause();
  }

  toClient(bytes: Buffer): void {
    this.client.write(bytes);
  }

  borrowNow(): boolean {
    return this.borrowSoon();
  }

  pauseClient(): void {
    this.client.pause();
  }

  carryOn(): void {
    if (this.queue.length === 0 && this.mayLetGo()) this.letGo({ dirty: false, reset: false });
    this.client.resume();
    this.pump();
  }

  broken(): void {
    this.end('backend_error');
  }

  statementContext(): string {
    return this.tracked ? parseContext(this.tracked.settings) : '';
  }

  okPayload(): Buffer {
    return okPayload(this.opts.capabilities);
  }

  private replied(reply: ReplyEnd): void {
    let verdict = this.verdicts.shift() ?? NOTHING_PINNED;
    this.status = reply.statusFlags;
    if (!('pin' in verdict)) {
      // A prepared statement's reply: its cursor, and what its text leaves behind when it runs.
      this.statements!.replied(verdict, reply);
      verdict = verdict.verdict;
    }
    const flagged = reply.stateChanged && !verdict.autocommitOnly;
    // Every reply's report is read, pinned or not (the client's own settings follow it).
    const why = this.tracked ? this.tracked.replyEnded(flagged, verdict) : flagged ? 'server reported a session state change' : null;
    if (verdict.pin) return this.pin(verdict.pin, 'statement text');
    if (verdict === CLIENT_RESET && this.tracked) {
      // The client's session is back at its login; the backend's trackers and settings
      // are the compute's defaults now: the pool resets it (trackers on, settings read)
      // before anyone borrows it again.
      this.tracked.backToLogin();
      this.resetOnRelease = true;
    }
    if (why) this.pin('session_state', why);
  }

  private pin(reason: PinReason, detail: string): void {
    // Replies are followed on (prepared statements need it; flagged OKs are rewritten for a
    // client that does not track) unless a command whose reply is not known pinned.
    if (reason === 'command') {
      this.unfollow();
      // Quitting with replies still to come: untracked from here on, so a fence marks their end.
      if (this.quitting && !this.tracker) {
        this.quitting = false;
        this.raiseFence(this.backend!);
      }
    }
    if (this.pinned) return;
    this.pinned = reason;
    this.opts.onPin?.(reason, detail);
  }

  /**
   * Stop following replies: once the proxy's own replies are in, and for a client that
   * does not track, once the trackers are off (nothing it cannot read may reach it). The
   * queue waits meanwhile.
   */
  private unfollow(): void {
    const t = this.tracker;
    this.verdicts.length = 0;
    if (!t) return;
    if (this.tracked?.strip) {
      t.expect(true);
      this.backend!.socket.write(framePacket(writeComQuery(TRACKING_OFF), 0));
    }
    if (t.pending > 0) this.draining = true;
    else this.tracker = null;
  }

  private fromServer(chunk: Buffer): void {
    this.awaiting = false;
    const { fence } = this;
    if (fence) {
      const out = fence.push(chunk);
      const flowing = this.client.destroyed || this.client.write(out);
      if (fence.done) return this.end('client_quit');
      if (!flowing) this.backend!.socket.pause();
      return;
    }
    if (this.statements?.reading) return this.statements.fromServer(chunk);
    const t = this.tracker;
    // A client gone after its COM_QUIT: its replies go nowhere, but they are still counted.
    const gone = this.client.destroyed;
    if (!t) {
      if (!gone && !this.client.write(chunk)) this.backend!.socket.pause();
      return;
    }
    try {
      t.push(chunk);
    } catch {
      // Bytes no reply explains (or the proxy's own command failed): neither side can be trusted.
      return this.end('backend_error');
    }
    const out = this.tracked ? t.output : null;
    let flowing = true;
    if (!gone && out === null) flowing = this.client.write(chunk);
    else if (!gone) for (const piece of out!) flowing = this.client.write(piece);
    if (!flowing) this.backend?.socket.pause();
    if (this.draining) {
      if (t.pending > 0) return;
      // Pinned, and the tracker's last reply is in: bytes go untouched from here.
      this.draining = false;
      this.tracker = null;
      this.client.resume();
      return this.pump();
    }
    // A reply in this chunk may have pinned the session (tracker gone).
    if (this.tracker !== t || t.pending > 0 || t.awaitingInfile) return;
    if (this.statements?.waitingQuiet) {
      this.statements.quiet();
    } else if (this.mayLetGo()) {
      this.letGo({ dirty: false, reset: this.resetOnRelease });
      this.resetOnRelease = false;
    }
    if (this.quitting) this.end('client_quit');
  }

  /**
   * COM_QUIT at the head of the queue: MariaDB answers what came before it, then closes.
   * With replies pending the session ends once they are relayed: counted by the reply
   * tracker, or (pinned, untracked) up to a fence the compute answers.
   */
  private quit(): void {
    if (this.quitting || this.fence) return;
    const b = this.backend;
    const t = this.tracker;
    if (!b || (t && t.pending === 0 && !t.awaitingInfile)) return this.end('client_quit');
    this.client.pause();
    if (t) this.quitting = true;
    else this.raiseFence(b);
  }

  private raiseFence(b: PooledBackend): void {
    this.fence = new ReplyFence();
    b.socket.write(this.fence.command);
  }

  /** Nothing pending: the backend may go back unless a transaction, the session's pin or a statement keeps it. */
  private mayLetGo(): boolean {
    return !this.pinned && this.outsideTransaction() && !this.statements?.table.busy;
  }

  /** The client's queue waits: for a backend, a KILL's decision, or the proxy's own prepare. */
  private get blocked(): boolean {
    return this.borrowing !== null || this.deciding || this.draining || this.statements?.blocking === true;
  }

  private outsideTransaction(): boolean {
    return (this.status & SERVER_STATUS_IN_TRANS) === 0 && (this.status & SERVER_STATUS_AUTOCOMMIT) !== 0;
  }

  /**
   * A backend for the queue's head: true when one is held at once (an idle one, taken
   * without a promise, signal or timer: the common case per statement); else the queue
   * waits for borrowFor() to end.
   */
  private borrowSoon(): boolean {
    const got = this.opts.borrowAtOnce?.();
    if (got) {
      this.hold(got);
      return true;
    }
    this.client.pause();
    void this.borrowFor();
    return false;
  }

  private async borrowFor(): Promise<void> {
    const borrowing = (this.borrowing = new AbortController());
    let failure: unknown = null;
    let got: PooledBackend | null = null;
    try {
      got = await this.opts.borrow(borrowing.signal);
    } catch (err) {
      failure = err;
    }
    this.borrowing = null;
    if (this.ended) {
      if (got) this.opts.giveBack(got, { dirty: false, reset: false });
      return;
    }
    if (got) {
      this.hold(got);
    } else {
      // The statement gets the error; the client may try again. (Long data has no reply: it is lost, and so fails its execute.)
      const p = this.queue.shift()!;
      const command = this.commandOf(p);
      this.statements?.borrowFailed(command);
      if (command !== COM_STMT_SEND_LONG_DATA) this.client.write(framePacket(writeErrPacket(this.opts.errorFor(failure), CLIENT_PROTOCOL_41), (p.sequenceId + 1) & 0xff));
    }
    this.client.resume();
    this.pump();
  }

  /** `replay`: the client's settings go onto it (not for the login's, which goes straight back). */
  private hold(b: PooledBackend, replay = true): void {
    this.backend = b;
    this.borrows++;
    this.status = SERVER_STATUS_AUTOCOMMIT;
    const tracked = this.tracked;
    if (tracked) tracked.backend = b;
    if (!this.pinned) this.tracker = new ReplyTracker(b.capabilities, b.mariadbCapabilities, this.status, this.onReply, tracked);
    const s = b.socket;
    s.on('data', this.onServerData);
    s.on('drain', this.onServerDrain);
    s.on('close', this.onServerClose);
    s.on('error', this.onServerError);
    s.resume();
    if (replay && tracked && this.tracker) this.replay(b);
    this.opts.onHold?.(b);
  }

  private letGo(opts: ReleaseOptions): void {
    const b = this.detach();
    if (opts.reset || opts.dirty) this.forget(b);
    this.opts.giveBack(b, opts);
  }

  /** `b` is reset or goes away: its prepared statements with it. */
  private forget(b: PooledBackend): PooledBackend {
    forgetStatements(b);
    return b;
  }

  /** Stop relaying the held backend and hand it over, paused. */
  private detach(): PooledBackend {
    const b = this.backend!;
    this.backend = null;
    this.tracker = null;
    this.verdicts.length = 0;
    if (this.tracked) this.tracked.backend = null;
    const s = b.socket;
    s.off('data', this.onServerData);
    s.off('drain', this.onServerDrain);
    s.off('close', this.onServerClose);
    s.off('error', this.onServerError);
    s.pause();
    this.opts.onHold?.(null);
    return b;
  }

  /** Whether the held backend may be running the client's statement. */
  private statementRunning(): boolean {
    if (this.tracker) return this.tracker.pending > 0;
    return this.awaiting && this.lastCommand !== COM_QUIT;
  }

  /**
   * A command that may carry the session's id, at the head of the queue: answered here,
   * replaced by what the compute should run instead, or let through (vetted).
   */
  private intercept(p: Packet): void {
    const what = interceptCommand(p.payload, true);
    if (!what) {
      this.vetted = p;
      return;
    }
    if (what.kind === 'connection_id') return this.dispose(p, settleConnectionId(what.query, this.opts.sessionId, this.replyContext(p)));
    let action: KillAction | Promise<KillAction>;
    try {
      action = this.opts.hook ? this.opts.hook.kill(what.kill) : { kind: 'pass' };
    } catch {
      action = KILL_FAILED;
    }
    if (!(action instanceof Promise)) return this.dispose(p, settleKill(action, this.replyContext(p)));
    this.deciding = true;
    this.client.pause();
    void action
      .catch(() => KILL_FAILED)
      .then((a) => {
        this.deciding = false;
        if (this.ended) return;
        // Whether a backend is held is known only now: a reply may have let one go meanwhile.
        this.dispose(p, settleKill(a, this.replyContext(p)));
        if (!this.ended && !this.blocked) this.client.resume();
        this.pump();
      });
  }

  /** Holding no backend, the session writes replies itself; holding one, the compute answers (order, status flags). */
  private replyContext(p: Packet): ReplyContext | null {
    if (this.backend) return null;
    const { capabilities, mariadbCapabilities } = this.opts;
    return { capabilities, mariadbCapabilities, statusFlags: idleStatus(this.status), sequenceId: p.sequenceId };
  }

  private dispose(p: Packet, d: Disposal): void {
    if (d.kind === 'pass') {
      this.vetted = p;
    } else if (d.kind === 'replace') {
      // The queue's head becomes the new command, already vetted.
      const q: Packet = { sequenceId: 0, payload: d.payload };
      this.queue[0] = q;
      this.vetted = q;
    } else {
      this.queue.shift();
      this.client.write(d.bytes);
      if (d.end) this.end('terminated');
    }
  }
}

/** The OK the proxy answers a held-nothing COM_PING or COM_RESET_CONNECTION with, one per capability set. */
const okPayloads = new Map<number, Buffer>();
function okPayload(capabilities: number): Buffer {
  let ok = okPayloads.get(capabilities);
  if (!ok) {
    ok = writeOkPacket({ affectedRows: 0, lastInsertId: 0, statusFlags: SERVER_STATUS_AUTOCOMMIT, warnings: 0, info: '' }, capabilities);
    okPayloads.set(capabilities, ok);
  }
  return ok;
}

function ignore(): void {}
