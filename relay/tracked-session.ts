// Server -> Client, transaction pooling: what the compute's session trackers say each
// statement changed, turned into the client's own settings (replayed on the next
// connection it borrows) or a reason to pin. "Flagged" is not "pin": the server flags
// `SET autocommit=1`, a SET to the current value and `SET STATEMENT ... FOR`, which
// leave nothing, and reports the values that now hold, so the payload decides:
// - a replayed variable (backend/session-settings.ts) or the current database: the
//   client's new value, remembered, and the connection's;
// - a variable that follows another (the database's charset and collation after USE),
//   autocommit (the status flags hold the connection while it is off): nothing;
// - any other variable (unique_checks, max_statement_time, ...): pin;
// - a state change with nothing else (a user variable, a temporary table, PREPARE,
//   SET ROLE, ...): pin. The statement text catches what comes with a variable in the
//   same statement (pin-rules.ts).
//
// The client's settings go onto each backend it borrows when they differ (replayOnto).
import {
  adoptSettings,
  collationServerUnknown,
  copySettings,
  replayedIndex,
  replaySql,
  reportBit,
  settleReport,
  type SessionSettings,
} from '../backend/session-settings.js';
import {
  framePacket,
  readSessionState,
  writeComInitDb,
  writeComQuery,
  type ReplyTracker,
  type SessionStateSink,
  type SessionStateWatcher,
  withTracker,
  type TrackerView,
} from '../protocol/index.js';
import type { QueryVerdict } from './query-verdict.js';
import { stringModes } from './sql-lexer.js';
import type { PooledBackend } from '../pool/pooled-backend.js';

/** The trackers as the proxy turned them on (backend/session-settings.ts): a client setting them so changes nothing. */
const TRACKING: Record<string, string> = { session_track_schema: 'ON', session_track_state_change: 'ON', session_track_system_variables: '*' };

const SQL_MODE = replayedIndex('sql_mode');

/** Variables that change with another and need no replay of their own. */
const FOLLOWERS = new Set(['character_set_database', 'collation_database', 'autocommit']);

export class TrackedSession implements SessionStateWatcher, SessionStateSink {
  /** The held connection's (set by the relay on each borrow). */
  backend: PooledBackend | null = null;
  /** The proxy's read of LAST_INSERT_ID() is on its way (previous-statement.ts): its report is the client's value. */
  readingInsertId = false;
  /** Reports of last_insert_id to come before that read's that say nothing of the client's (the proxy's SETs, reads overtaken). */
  insertIdReportsToSkip = 0;
  /** What the client's sql_mode says of its quotes (sql-lexer.ts stringModes): kept with sql_mode, read per statement. */
  stringModes: number;
  /** Why the reply being read pins, if it does. */
  private pinWhy: string | null = null;
  /** The reply being read had a session-state block. */
  private sawState = false;
  // The OK being read.
  private verdict: QueryVerdict | undefined;
  private swallowed = false;
  private changes = 0;
  private stateChange = false;
  /** Which coupled charsets and collations the report named (reportBit): the client's own changes, and all for the connection. */
  private reportedOwn = 0;
  private reportedAll = 0;

  /**
   * `settings`: the client's own, starting as a fresh login's. `verdicts` is the relay's
   * queue of pending statements' verdicts: the head is the reply being read.
   */
  /** The client's own settings, starting as its login's. */
  readonly settings: SessionSettings;
  /** For a client that tracks, what its own trackers report (its login's, then as it sets them); null for one that does not. */
  view: TrackerView | null;

  constructor(
    /** A fresh login's settings (COM_RESET_CONNECTION brings the client back to them). */
    private readonly login: SessionSettings,
    readonly strip: boolean,
    /** For a client that tracks, what its login's trackers report (null for one that does not). */
    private readonly loginView: TrackerView | null,
    /** The client logged in without a database: a USE cannot be undone on a shared connection, so it pins. */
    private readonly noDatabase: boolean,
    private readonly verdicts: ReadonlyArray<QueryVerdict | { verdict: QueryVerdict }>,
  ) {
    this.settings = copySettings(login);
    this.view = loginView;
    this.stringModes = stringModes(this.settings.values[SQL_MODE]!);
  }

  /** The client reset its session (COM_RESET_CONNECTION): its settings are its login's again. */
  backToLogin(): void {
    adoptSettings(this.settings, this.login);
    this.view = this.loginView;
    this.stringModes = stringModes(this.settings.values[SQL_MODE]!);
    // COM_RESET_CONNECTION sets LAST_INSERT_ID() to 0, on the held connection too.
    this.settings.lastInsertId = '0';
    if (this.backend?.settings) this.backend.settings.lastInsertId = '0';
  }

  /**
   * The client's settings onto a backend just borrowed, when they differ: written at once,
   * ahead of whatever the client sends on it (a statement, an execute, a prepare, which
   * waits for their replies), read and dropped by `tracker`.
   */
  replayOnto(b: PooledBackend, tracker: ReplyTracker): void {
    const wanted = this.settings;
    const current = b.settings!;
    // The usual case on every borrow: nothing differs, and nothing is made to find that out.
    const w = wanted.values;
    const c = current.values;
    let same = wanted.database === null || wanted.database === current.database;
    for (let i = 0; same && i < w.length; i++) same = w[i] === c[i];
    if (same) return;
    const commands: Buffer[] = [];
    if (wanted.database !== null && wanted.database !== current.database) commands.push(writeComInitDb(wanted.database));
    const sql = replaySql(wanted, current);
    if (sql) commands.push(writeComQuery(sql));
    if (commands.length === 0) {
      // Equal in effect (a charset left stale beside the collation that says it): the next compare finds that at once.
      for (let i = 0; i < w.length; i++) c[i] = w[i]!;
      return;
    }
    adoptSettings(current, wanted);
    for (const c of commands) {
      tracker.expect(true);
      b.socket.write(framePacket(c, 0));
    }
  }

  onSessionState(buf: Buffer, _start: number, end: number, stateAt: number, swallowed: boolean): void {
    const head = swallowed ? undefined : this.verdicts[0];
    // A prepared statement's reply carries its text's verdict.
    this.verdict = head === undefined || 'pin' in head ? head : head.verdict;
    this.swallowed = swallowed;
    this.changes = 0;
    this.stateChange = false;
    this.reportedOwn = 0;
    this.reportedAll = 0;
    readSessionState(buf, stateAt, end, this);
    // A charset set alone left its collation the default (or SET NAMES ... COLLATE's), unreported.
    const names = this.verdict?.collation;
    if (this.reportedAll !== 0 && this.backend?.settings) settleReport(this.backend.settings.values, this.reportedAll, names);
    if (swallowed) return;
    this.sawState = true;
    if (this.reportedOwn !== 0) settleReport(this.settings.values, this.reportedOwn, names);
    if (this.stateChange && this.changes === 0) {
      this.pinWhy ??= 'the compute reported a session state change';
      // A new list that leaves itself out is reported as a bare state change (MariaDB 10.11):
      // the connection's list is now the client's own, so every variable it reports is the client's.
      if (this.view && this.verdict?.setsVariables?.includes('session_track_system_variables')) this.view = { ...this.view, variables: null };
    }
  }

  /**
   * After a reply: why it pins (or null). `flagged`: its status said the state changed;
   * `verdict`: its statement's.
   */
  replyEnded(flagged: boolean, verdict: QueryVerdict): string | null {
    const temporary = verdict.temporary;
    // SET STATEMENT's variables come back with a later statement's report (or were in this one's).
    if (temporary && this.backend) {
      for (const name of temporary) (this.backend.restoring ??= new Set()).add(name);
      // Its restore has already reset collation_server to the charset's default (MariaDB 10.11), reported later.
      if (temporary.includes('character_set_server') && this.backend.settings) collationServerUnknown(this.backend.settings);
    }
    const undescribed = flagged && !this.sawState && !temporary;
    const why = this.pinWhy ?? (undescribed ? 'the compute flagged a state change it did not describe' : null);
    this.pinWhy = null;
    this.sawState = false;
    return why;
  }

  variable(name: string, value: string): void {
    this.changes++;
    const b = this.backend;
    // A restore, unless this statement may have set the variable itself.
    const restored = b?.restoring?.delete(name) === true && this.verdict?.setsVariables?.includes(name) !== true;
    if (this.verdict?.temporary) {
      // SET STATEMENT: the value for that statement only; the old one is back after it.
      (b!.restoring ??= new Set()).add(name);
      return;
    }
    if (name === 'last_insert_id' && this.swallowed) {
      // The proxy's SET of it, or its read before giving the connection back (previous-statement.ts).
      if (this.insertIdReportsToSkip > 0) this.insertIdReportsToSkip--;
      else if (this.readingInsertId) {
        this.readingInsertId = false;
        this.settings.lastInsertId = value;
        if (b?.settings) b.settings.lastInsertId = value;
      }
    }
    const i = replayedIndex(name);
    if (i >= 0) {
      if (b?.settings) b.settings.values[i] = value;
      const bit = reportBit(i);
      this.reportedAll |= bit;
      if (!restored && !this.swallowed) {
        this.settings.values[i] = value;
        if (i === SQL_MODE) this.stringModes = stringModes(value);
        this.reportedOwn |= bit;
      }
      return;
    }
    // The client's own trackers (what it is told from now on); one set other than the proxy's pins below.
    if (this.view && !this.swallowed && !restored) this.view = withTracker(this.view, name, value);
    if (FOLLOWERS.has(name) || TRACKING[name] === value || restored || this.swallowed) return;
    this.pinWhy ??= `the compute reported a change of ${name}`;
  }

  schema(name: string): void {
    this.changes++;
    if (this.backend?.settings) this.backend.settings.database = name;
    if (this.swallowed) return;
    this.settings.database = name;
    if (this.noDatabase) this.pinWhy ??= 'USE in a session that logged in without a database';
  }

  stateChanged(): void {
    this.stateChange = true;
  }

  other(): void {
    this.changes++;
  }
}
