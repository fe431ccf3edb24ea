// Transaction pooling: when a session must keep ("pin") the compute connection it holds.
// Each command is judged as it goes (its text by pin-rules.ts; any command but COM_QUERY,
// COM_PING, COM_RESET_CONNECTION, COM_INIT_DB and the prepared-statement commands pins
// at once), and each reply as it ends: the compute's trackers say what the statement
// changed (tracked-session.ts), replayed on the next connection or a pin. A pinned
// session keeps its connection until it quits, and the connection is reset then.
//
// A command that pins (COM_CHANGE_USER, COM_FIELD_LIST, ...) has a reply the proxy does
// not know: the relay stops following replies (PinHost.unfollow) and relays them
// untouched from then on.
//
// The compute's stored code (stored-code-names.ts): a statement mentioning a name of it
// pins; while it is unknown, the session's first statement pins. A prepared statement
// was judged when prepared: it is judged again when it runs if the names changed since.
import {
  COM_CHANGE_USER,
  COM_INIT_DB,
  COM_PING,
  COM_QUERY,
  COM_RESET_CONNECTION,
  commandName,
  type ErrPacket,
  type Packet,
  type ReplyEnd,
  type ReplyTracker,
} from '../protocol/index.js';
import type { ClientStatement } from './client-statements.js';
import { judgeQuery } from './pin-rules.js';
import type { PinReason, QueryVerdict } from './query-verdict.js';
import type { TrackedSession } from './tracked-session.js';
import type { StoredCodeNames } from './stored-code-names.js';

/** What the judge needs of its relay. */
export interface PinHost {
  /** Null while nothing is held, or once replies are no longer followed. */
  readonly replies: ReplyTracker | null;
  /** The client's settings and the trackers' reader; null for untracked backends. */
  readonly tracked: TrackedSession | null;
  /** A command whose reply the proxy does not know pinned: stop following replies. */
  unfollow(): void;
  /** The compute drops the held connection's prepared statements (COM_CHANGE_USER, COM_RESET_CONNECTION). */
  statementsDropped(): void;
  /** A prepared statement's reply ended. */
  statementReplied(s: ClientStatement, reply: ReplyEnd): void;
  /**
   * A followed command with `verdict` is about to go (before its reply is expected): the
   * error that must answer it instead, or null (previous-statement.ts).
   */
  beforeStatement(verdict: QueryVerdict): ErrPacket | null;
}

export const NOTHING_PINNED: QueryVerdict = { pin: null, autocommitOnly: false };
const DATABASE_CHANGED: QueryVerdict = { pin: 'use_database', autocommitOnly: false };
/** The client's own COM_RESET_CONNECTION on a held backend (tracked: see replied()). */
const CLIENT_RESET: QueryVerdict = { pin: null, autocommitOnly: false };

export class PinJudge {
  /** What each pending reply's statement said about state, in order; a prepared statement's reply, its statement. */
  readonly verdicts: Array<QueryVerdict | ClientStatement> = [];
  pinned: PinReason | null = null;
  /** The client sent COM_CHANGE_USER: its connection is never lent again. */
  changedUser = false;
  /** The client reset the held backend's session: it goes back through the pool's reset. */
  resetOnRelease = false;

  constructor(
    private readonly host: PinHost,
    /** Called once, when the session gets pinned. */
    private readonly onPin: ((reason: PinReason, detail: string) => void) | undefined,
    /** The compute's stored code that pins; null when not followed (tests of other parts). */
    readonly code: StoredCodeNames | null,
  ) {}

  /** A statement is about to run (a query, an execute): while the compute's stored code is unknown, it pins. */
  statementRuns(): void {
    const { code } = this;
    if (code !== null && !code.known && this.pinned === null) this.pin('stored_code_unknown', `the compute's stored code is not known: ${code.reason}`);
  }

  /** A command at the queue's head is about to go to the held backend: the error that answers it instead, or null. */
  judge(p: Packet, command: number): ErrPacket | null {
    const { host } = this;
    if (command === COM_CHANGE_USER) this.changedUser = true;
    if (command === COM_CHANGE_USER || command === COM_RESET_CONNECTION) host.statementsDropped();
    const tracker = host.replies;
    if (!tracker) return null; // pinned: relayed untouched
    const tracked = host.tracked !== null;
    let verdict: QueryVerdict;
    if (command === COM_QUERY) {
      this.statementRuns();
      verdict = judgeQuery(p.payload.subarray(1), tracked, this.code, tracked ? host.tracked!.stringModes : 0);
    }
    else if (command === COM_PING) verdict = NOTHING_PINNED;
    else if (command === COM_RESET_CONNECTION) verdict = CLIENT_RESET;
    // Tracked: the reply reports the schema (replayed; a pin if the client logged in without one).
    else if (command === COM_INIT_DB) verdict = tracked ? NOTHING_PINNED : DATABASE_CHANGED;
    else {
      this.pin('command', commandName(command));
      return null;
    }
    // Tracked, a statement that pins by its text pins before it goes (SET profiling=1 records what follows).
    if (tracked && verdict.pin) this.pin(verdict.pin, 'statement text');
    const refused = host.beforeStatement(verdict);
    this.verdicts.push(verdict);
    tracker.expect();
    return refused;
  }

  /** A reply to the client ended (the proxy's own are not told). */
  replied(reply: ReplyEnd): void {
    let verdict = this.verdicts.shift() ?? NOTHING_PINNED;
    if (!('pin' in verdict)) {
      // A prepared statement's reply: its cursor, and what its text leaves behind when it runs.
      this.host.statementReplied(verdict, reply);
      const s = verdict;
      verdict = s.verdict;
      const { code } = this;
      if (verdict.pin === null && code !== null && s.codeGeneration !== code.generation) {
        s.codeGeneration = code.generation;
        const again = judgeQuery(s.sql, false, code).pin;
        if (again !== null) this.pin(again, 'statement text');
      }
    }
    const { tracked } = this.host;
    const flagged = reply.stateChanged && !verdict.autocommitOnly;
    // Every reply's report is read, pinned or not (the client's own settings follow it).
    const why = tracked ? tracked.replyEnded(flagged, verdict) : flagged ? 'server reported a session state change' : null;
    if (verdict.pin) return this.pin(verdict.pin, 'statement text');
    if (verdict === CLIENT_RESET && tracked) {
      // The client's session is back at its login; the backend's trackers and settings
      // are the compute's defaults now: the pool resets it (trackers on, settings read)
      // before anyone borrows it again.
      tracked.backToLogin();
      this.resetOnRelease = true;
    }
    if (why) this.pin('session_state', why);
  }

  pin(reason: PinReason, detail: string): void {
    // Replies are followed on (prepared statements need it; flagged OKs are rewritten for a
    // client that does not track) unless a command whose reply is not known pinned.
    if (reason === 'command') this.host.unfollow();
    if (this.pinned) return;
    this.pinned = reason;
    this.onPin?.(reason, detail);
  }
}
