// Transaction pooling: what a session's compute exchange holds, and how the two parts
// below it change that. The lease (backend-lease.ts) lends a backend, takes it back, or
// reports it closed or failed; the pin judge (pin-judge.ts) may stop the exchange
// following replies when a command it does not know pins the session. Both call the
// exchange back (LeaseHost, PinHost), and those callbacks live here with the state they
// set: the backend held, the reply tracker that follows it (one, reset at each borrow),
// the last status flags, the COM_QUIT in progress.
//
// The traffic itself (commands out, replies in, the backend given back, COM_QUIT, the
// session's end) is compute-exchange.ts, a subclass: one object, so the per-packet path
// reads its fields directly.
import type { Socket } from 'node:net';
import {
  ReplyTracker,
  SERVER_STATUS_AUTOCOMMIT,
  SERVER_STATUS_IN_TRANS,
  framePacket,
  writeComQuery,
  type ErrPacket,
  type ReplyEnd,
} from '../protocol/index.js';
import type { PooledBackend } from '../pool/pooled-backend.js';
import { TRACKING_OFF, trackingSql } from '../backend/session-settings.js';
import { BackendLease, type LeaseHost, type LeaseOptions } from './backend-lease.js';
import type { ClientStatement } from './client-statements.js';
import { forgetStatements } from './connection-statements.js';
import { PinJudge, type PinHost } from './pin-judge.js';
import type { PinReason, QueryVerdict } from './query-verdict.js';
import { PreviousStatement } from './previous-statement.js';
import { ReplyFence } from './reply-fence.js';
import type { SessionEnd } from './session-relay.js';
import type { StatementRelay } from './statement-relay.js';
import type { TrackedSession } from './tracked-session.js';
import type { StoredCodeNames } from './stored-code-names.js';

export interface ExchangeOptions extends LeaseOptions {
  /** Called once, when the session gets pinned. */
  onPin?(reason: PinReason, detail: string): void;
  /** The client left while `backend` may run its statement: stop it, then release it dirty (without this: dirty at once). */
  abandon?(backend: PooledBackend): void;
  /** The compute's stored code that pins (stored-code-names.ts), shared by its sessions; absent: not followed. */
  storedCode?: StoredCodeNames;
}

/** What the exchange needs of its relay (the client's side); borrowed() and serverDrained() are passed on from the lease. */
export interface ExchangeHost extends Pick<LeaseHost, 'ended' | 'borrowed' | 'serverDrained'> {
  /** Made at the first prepared-statement command. */
  readonly statements: StatementRelay | null;
  end(why: SessionEnd): void;
  /** Go on with the client's queue. */
  pump(): void;
}

export abstract class ExchangeState implements LeaseHost, PinHost {
  readonly lease: BackendLease;
  readonly pins: PinJudge;
  /** The client's settings and the trackers' reader; null for untracked backends. */
  tracked: TrackedSession | null = null;
  /** Present while a backend is held and its replies are followed (not once a command pinned): `replyTracker` then. */
  protected tracker: ReplyTracker | null = null;
  private replyTracker: ReplyTracker | null = null;
  lastStatus = SERVER_STATUS_AUTOCOMMIT;
  /** Pinned with the tracker still reading: the queue waits until the proxy's own replies are in. */
  draining = false;
  /** The client said COM_QUIT while replies were pending: it ends once they are relayed. */
  protected quitting = false;
  /** Untracked, the same: the fence marks where the client's replies end. */
  protected fence: ReplyFence | null = null;
  /** What the client's previous statement left: LAST_INSERT_ID() put back, ROW_COUNT() read where it is. */
  protected readonly previous = new PreviousStatement();

  private readonly onReply = (reply: ReplyEnd) => {
    this.lastStatus = reply.statusFlags;
    this.pins.replied(reply);
  };

  constructor(
    protected readonly host: ExchangeHost,
    protected readonly client: Socket,
    protected readonly opts: ExchangeOptions,
  ) {
    this.lease = new BackendLease(this, opts);
    this.pins = new PinJudge(this, opts.onPin, opts.storedCode ?? null);
  }

  get ended(): boolean {
    return this.host.ended;
  }

  /** Null while nothing is held, or once a command the proxy does not follow pinned the session. */
  get replies(): ReplyTracker | null {
    return this.tracker;
  }

  /** Bytes from the held backend (compute-exchange.ts). */
  abstract fromServer(chunk: Buffer): boolean;

  protected raiseFence(b: PooledBackend): void {
    this.fence = new ReplyFence();
    b.socket.write(this.fence.command);
  }

  // LeaseHost: the backend-lease.ts side.

  leased(b: PooledBackend, replay: boolean): void {
    this.lastStatus = SERVER_STATUS_AUTOCOMMIT;
    this.previous.leased(this.tracked);
    const { tracked } = this;
    if (tracked) tracked.backend = b;
    if (this.pins.pinned) return;
    // One tracker for every borrow (a borrow per statement in autocommit), made afresh for each.
    let t = this.replyTracker;
    if (t) t.reset(b.capabilities, b.mariadbCapabilities, this.lastStatus);
    else t = this.replyTracker = new ReplyTracker(b.capabilities, b.mariadbCapabilities, this.lastStatus, this.onReply, tracked);
    this.tracker = t;
    if (replay && tracked) tracked.replayOnto(b, t);
  }

  unleased(): void {
    this.tracker = null;
    this.pins.verdicts.length = 0;
    if (this.tracked) this.tracked.backend = null;
  }

  borrowed(got: PooledBackend | null, failure: unknown): void {
    this.host.borrowed(got, failure);
  }

  serverDrained(): void {
    this.host.serverDrained();
  }

  serverClosed(): void {
    // Whatever a fence held back was the client's.
    if (this.fence && !this.host.ended && !this.client.destroyed) this.client.write(this.fence.rest());
    this.host.end('backend_closed');
  }

  serverFailed(): void {
    this.host.end('backend_error');
  }

  // PinHost: the pin-judge.ts side.

  /** Stop following replies once the proxy's own are in (the queue waits), for a client that does not track once the
   * trackers are off (nothing it cannot read may reach it). Quitting with replies still to come, a fence marks their end. */
  unfollow(): void {
    const t = this.tracker;
    this.pins.verdicts.length = 0;
    if (t) {
      if (this.tracked) this.previous.settle(this.tracked, this.lease.held!, t);
      // The trackers back to what the client would have: none, or its login's.
      const tracking = this.tracked?.strip ? TRACKING_OFF : this.tracked?.view ? trackingSql(this.tracked.view) : null;
      if (tracking) {
        t.expect(true);
        this.lease.held!.socket.write(framePacket(writeComQuery(tracking), 0));
      }
      if (t.pending > 0) this.draining = true;
      else this.tracker = null;
    }
    if (this.quitting && !this.tracker) {
      this.quitting = false;
      this.raiseFence(this.lease.held!);
    }
  }

  statementsDropped(): void {
    this.host.statements?.table.clear();
    forgetStatements(this.lease.held!);
  }

  statementReplied(s: ClientStatement, reply: ReplyEnd): void {
    this.host.statements!.replied(s, reply);
  }

  beforeStatement(verdict: QueryVerdict): ErrPacket | null {
    const { tracked, tracker } = this;
    if (!tracked || !tracker) return null;
    const s = this.lastStatus;
    // A pinned session keeps its connection: nothing is read back from it (it would come between statements).
    const autocommit = (s & SERVER_STATUS_IN_TRANS) === 0 && (s & SERVER_STATUS_AUTOCOMMIT) !== 0 && !this.pins.pinned;
    return this.previous.before(verdict.previous ?? 0, tracked, this.lease.held!, tracker, autocommit);
  }
}
