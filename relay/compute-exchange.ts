// Transaction pooling: the exchange with the compute connection a session holds.
// Commands go to it whole (the client's, judged as they go: pin-judge.ts; the proxy's
// own), and its bytes come back as they arrive while a ReplyTracker finds where each
// reply ends and what its status says: with nothing pending, no transaction open and
// autocommit on, the backend goes back to the pool without a reset (once the client's
// LAST_INSERT_ID() is read off it, if only it knows it: previous-statement.ts, which also
// puts that value back before a statement that reads it). Once a command the
// proxy does not follow pins the session, its replies go untouched. After COM_QUIT the
// session ends once the replies before it are relayed: counted by the tracker or,
// untracked, up to a fence the compute answers (reply-fence.ts).
//
// Here: that traffic, as the relay (transaction-relay.ts) calls it. What the exchange
// holds, and the callbacks through which the lease and the pin judge change it, is the
// base class in exchange-state.ts.
import {
  COM_QUIT,
  COM_STMT_BULK_EXECUTE,
  COM_STMT_EXECUTE,
  SERVER_STATUS_AUTOCOMMIT,
  SERVER_STATUS_IN_TRANS,
  firstSequenceId,
  framePacket,
  type ErrPacket,
  type Packet,
} from '../protocol/index.js';
import type { ClientStatement } from './client-statements.js';
import { forgetStatements } from './connection-statements.js';
import { ExchangeState } from './exchange-state.js';
import { errorStandIn } from './intercepted-command.js';
import { NOTHING_PINNED } from './pin-judge.js';
import type { SessionEnd } from './session-relay.js';

export class ComputeExchange extends ExchangeState {
  /** Untracked (pinned by a command): a command went and nothing came back since. */
  private awaiting = false;
  private lastCommand = -1;

  /** The client said COM_QUIT and waits for its last replies: its socket closing does not end the session. */
  get leaving(): boolean {
    return this.quitting || this.fence !== null;
  }

  /** Held, followed and nothing pending: the backend could go back now. */
  get idle(): boolean {
    const t = this.tracker;
    return this.lease.held !== null && t !== null && t.pending === 0 && !t.awaitingInfile;
  }

  /** The command byte of a client packet that starts a command, else -1. */
  commandOf(p: Packet): number {
    if (this.tracker?.awaitingInfile || p.payload.length === 0) return -1;
    return firstSequenceId(p) === 0 ? p.payload[0]! : -1;
  }

  /** Sends client packet `p` to the held backend; false when it must wait (its pin waits for the proxy's own replies). */
  send(p: Packet, command: number): boolean {
    const b = this.lease.held!;
    if (this.tracker?.awaitingInfile && p.payload.length === 0) this.tracker.infileSent();
    let payload = p.payload;
    if (command >= 0) {
      const refused = this.pins.judge(p, command);
      if (this.draining) return false;
      this.lastCommand = command;
      if (refused) payload = errorStandIn(refused);
    }
    this.awaiting = true;
    if (!b.socket.write(framePacket(payload, firstSequenceId(p)))) this.client.pause();
    if (command >= 0) this.afterStatement();
    return true;
  }

  /** A command for the held backend (statement-relay.ts): `reply` says what its reply concerns, undefined when none comes. */
  toCompute(payload: Buffer, sequenceId: number, command: number, reply: ClientStatement | null | undefined, rowsOnly: boolean): void {
    this.awaiting = true;
    this.lastCommand = command;
    const t = this.tracker;
    if (reply) this.pins.statementRuns(); // an execute (or a fetch) of the client's statement
    if (reply !== undefined && t) {
      // A stand-in (reply null) runs in place of a command: not the client's statement.
      let refused: ErrPacket | null = null;
      if (reply === null) this.previous.interrupted();
      else if (command === COM_STMT_EXECUTE || command === COM_STMT_BULK_EXECUTE) refused = this.beforeStatement(reply.verdict);
      if (refused) payload = errorStandIn(refused);
      this.pins.verdicts.push(reply ?? NOTHING_PINNED);
      if (rowsOnly && !refused) t.expectRows();
      else t.expect();
    }
    if (!this.lease.held!.socket.write(framePacket(payload, sequenceId))) this.client.pause();
    if (reply) this.afterStatement();
  }

  /**
   * Gives the held backend back between transactions, once the client's LAST_INSERT_ID()
   * is read off it if only the connection knows it (then the read's reply lets it go).
   */
  letGo(reset: boolean): void {
    const { tracker: t, tracked } = this;
    if (t && tracked) {
      if (t.pending > 0) return; // the end of what is pending lets it go
      const outcome = this.previous.beforeRelease(tracked, this.lease.held!, t);
      if (outcome === 'read') return;
      if (outcome === 'lost') return this.pins.pin('session_state', 'LAST_INSERT_ID() could not be read back');
    }
    this.lease.release({ dirty: false, reset });
  }

  /** Bytes from the held backend, in order; false: the client cannot take more now (stop reading the backend). */
  override fromServer(chunk: Buffer): boolean {
    this.awaiting = false;
    const { fence, client } = this;
    if (fence) {
      const out = fence.push(chunk);
      const flowing = client.destroyed || client.write(out);
      if (fence.done) this.host.end('client_quit');
      return flowing;
    }
    const { statements } = this.host;
    if (statements?.reading) {
      statements.fromServer(chunk);
      return true;
    }
    const t = this.tracker;
    // A client gone after its COM_QUIT: its replies go nowhere, but they are still counted.
    const gone = client.destroyed;
    if (!t) return gone || client.write(chunk);
    try {
      t.push(chunk);
    } catch {
      // Bytes no reply explains (or the proxy's own command failed): neither side can be trusted.
      this.host.end('backend_error');
      return true;
    }
    const out = this.tracked ? t.output : null;
    let flowing = true;
    if (!gone && out === null) flowing = client.write(chunk);
    else if (!gone) for (const piece of out!) flowing = client.write(piece);
    if (this.draining) {
      if (t.pending > 0) return flowing;
      // Pinned, and the tracker's last reply is in: bytes go untouched from here.
      this.draining = false;
      this.tracker = null;
      client.resume();
      this.host.pump();
      return flowing;
    }
    // A reply in this chunk may have pinned the session (tracker gone).
    if (this.tracker !== t || t.pending > 0 || t.awaitingInfile) return flowing;
    if (statements?.waitingQuiet) {
      statements.quiet();
    } else if (this.mayLetGo()) {
      this.letGo(this.pins.resetOnRelease);
      this.pins.resetOnRelease = false;
    }
    if (this.quitting) this.host.end('client_quit');
    return flowing;
  }

  /** COM_QUIT at the head of the queue: MariaDB answers what came before it, then closes. */
  quit(): void {
    if (this.leaving) return;
    const b = this.lease.held;
    const t = this.tracker;
    if (!b || (t && t.pending === 0 && !t.awaitingInfile)) return this.host.end('client_quit');
    this.client.pause();
    if (t) this.quitting = true;
    else this.raiseFence(b);
  }

  /** Nothing pending: the backend may go back unless a transaction, the session's pin or a statement keeps it. */
  mayLetGo(): boolean {
    const s = this.lastStatus;
    const outsideTransaction = (s & SERVER_STATUS_IN_TRANS) === 0 && (s & SERVER_STATUS_AUTOCOMMIT) !== 0;
    return !this.pins.pinned && outsideTransaction && !this.host.statements?.table.busy;
  }

  /** The session ends (`why`) holding what it holds; `clientMid`: the client stopped inside a packet or a prepare. */
  finish(why: SessionEnd, clientMid: boolean): void {
    const { lease } = this;
    lease.abort();
    if (!lease.held) return;
    // Reset whatever it holds (an open transaction, pinned state); a client gone mid-stream makes it unusable.
    const mid = (this.tracker?.pending ?? 0) > 0 || clientMid;
    const gone = why === 'client_closed' || why === 'client_error';
    if (gone && this.opts.abandon && this.statementRunning()) {
      const b = lease.detach();
      forgetStatements(b);
      this.opts.abandon(b);
    } else {
      lease.release({ dirty: why !== 'client_quit' || this.pins.changedUser || mid, reset: true });
    }
  }

  /** Whether the held backend may be running the client's statement. */
  private statementRunning(): boolean {
    return this.tracker ? this.tracker.pending > 0 : this.awaiting && this.lastCommand !== COM_QUIT;
  }

  /** A client statement was written to the held backend. */
  private afterStatement(): void {
    const { tracked, tracker } = this;
    if (tracked && tracker) this.previous.after(tracked, this.lease.held!, tracker);
  }

  /** The proxy sent a command of its own on the held backend (a prepare made again there). */
  proxyCommand(): void {
    this.previous.interrupted();
  }
}
