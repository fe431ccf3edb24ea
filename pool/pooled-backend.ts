// One logged-in backend connection as the pool keeps it (closed with COM_QUIT). While idle its socket is
// watched: a close (compute restarted, `KILL`, wait_timeout) or any unexpected byte
// marks it dead, so the next borrow throws it away instead of handing it out.
import type { Socket } from 'node:net';
import type { Greeting, TrackerView } from '../protocol/index.js';
import type { BackendKey, LoggedInBackend } from '../backend/login.js';
import type { CommandTarget } from '../backend/query.js';
import type { SessionBaseline } from '../backend/health.js';
import type { SessionSettings } from '../backend/session-settings.js';
import type { KeyPool } from './key-pool.js';
import { quitConnection } from '../backend/quit-connection.js';
import { divert, undivert, type ReadSink } from '../backend/backend-socket.js';

/** What a borrower sees of a pooled connection. */
export interface PooledBackend extends CommandTarget {
  readonly key: BackendKey;
  /** Paused when handed out: whoever reads it (the relay) resumes it. */
  readonly socket: Socket;
  readonly greeting: Greeting;
  /** The compute's connection id: CONNECTION_ID(), what KILL takes. */
  readonly threadId: number;
  /** Not closed and nothing unexpected seen. */
  readonly alive: boolean;
  /** How many clients have had it, this one included. */
  readonly borrows: number;
  /** Never lend it again: it is destroyed when released (a KILL aimed at its thread may land late). */
  retire(reason: string): void;
  /** Its session trackers are on (transaction pooling). */
  readonly tracked: boolean;
  /** The session-state block of the compute's login OK, or null (backend/login.ts): fixed for the connection's life. */
  readonly loginState: Buffer | null;
  /** Its replayed settings as they were right after login: a new client's own. Null when not tracked. */
  readonly loginSettings: SessionSettings | null;
  /** Its replayed settings now, kept up to date by whoever holds it. Null when not tracked. */
  settings: SessionSettings | null;
  /** The trackers a fresh login runs (the compute's globals when this one logged in): what a client that tracks is owed. Null when not tracked. */
  readonly loginTrackers: TrackerView | null;
  /**
   * Variables a `SET STATEMENT ... FOR` changed for one statement: the server reports
   * their restored values with a later statement, which is not a change of that one's.
   */
  restoring: Set<string> | null;
  /** init_connect when the server ran it at this connection's login (backend/health.ts), else null. */
  readonly initConnect: string | null;
}

export class BackendEntry implements PooledBackend, ReadSink {
  readonly key: BackendKey;
  readonly capabilities: number;
  readonly mariadbCapabilities: number;
  readonly socket: Socket;
  readonly greeting: Greeting;
  borrows = 0;
  /** With a borrower: only then may it be released or destroyed (once). */
  lent = false;
  /** When it last went idle (epoch ms). */
  idleSince = 0;
  baseline: SessionBaseline = { database: null, role: null };
  readonly tracked: boolean;
  readonly loginState: Buffer | null;
  settings: SessionSettings | null = null;
  restoring: Set<string> | null = null;
  private deadReason: string | null = null;
  private readonly onClose = () => this.markDead('connection closed');
  private readonly onIdleData = () => this.markDead('unexpected bytes while idle');
  private readonly onIdleEnd = () => this.markDead('compute ended the connection');

  constructor(
    readonly id: number,
    /** The key's pool it belongs to, for all its life. */
    readonly home: KeyPool,
    conn: LoggedInBackend,
  ) {
    this.key = home.key;
    this.capabilities = home.key.capabilities;
    this.mariadbCapabilities = home.key.mariadbCapabilities;
    this.tracked = home.key.tracked === true;
    this.socket = conn.socket;
    this.greeting = conn.greeting;
    this.loginState = conn.loginState;
    conn.socket.on('close', this.onClose);
    if (conn.socket.destroyed) this.markDead('connection closed');
  }

  get initConnect(): string | null {
    return this.baseline.initConnect ?? null;
  }

  get loginSettings(): SessionSettings | null {
    return this.baseline.settings ?? null;
  }

  get loginTrackers(): TrackerView | null {
    return this.baseline.trackers ?? null;
  }

  get threadId(): number {
    return this.greeting.connectionId;
  }

  get alive(): boolean {
    return this.deadReason === null && !this.socket.destroyed;
  }

  /** Why it is not alive, for logs. */
  get deathReason(): string {
    return this.deadReason ?? (this.socket.destroyed ? 'connection closed' : 'alive');
  }

  markDead(reason: string): void {
    this.deadReason ??= reason;
  }

  retire(reason: string): void {
    this.markDead(reason);
  }

  /**
   * In the idle list: read (and so notice closes and stray bytes). A socket of
   * backend-socket.ts sends its reads here (onBackendData), with no listener to add
   * or stream to resume: a transaction-mode client gives a connection back and takes
   * one again at every statement. Its end still comes as 'end' then 'close' (onClose).
   */
  watchIdle(now: number): void {
    const s = this.socket;
    this.idleSince = now;
    if (divert(s, this)) return;
    s.on('data', this.onIdleData);
    s.on('end', this.onIdleEnd);
    s.resume();
  }

  /** Leaving the idle list (borrow, ping, eviction): stop reading, keep whatever arrives for the next reader. */
  unwatchIdle(): void {
    const s = this.socket;
    if (undivert(s)) return;
    s.pause();
    s.off('data', this.onIdleData);
    s.off('end', this.onIdleEnd);
  }

  /** A byte from the compute while idle: nobody asked for it, so the stream is out of step. */
  onBackendData(): boolean {
    this.markDead('unexpected bytes while idle');
    return true;
  }

  close(): void {
    this.unwatchIdle();
    this.markDead('destroyed');
    quitConnection(this.socket);
  }
}
