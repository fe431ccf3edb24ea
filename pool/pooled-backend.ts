// One backend connection as the pool keeps it. It starts as an empty slot (generic-pool
// creates slots instantly; the borrower then logs in, see backend-pool.ts) and becomes
// a live connection on adopt(). While idle in the pool its socket is watched: a close
// (compute restarted, `KILL`, wait_timeout) or any unexpected byte marks it dead, so
// validation on borrow throws it away instead of handing it out.
import type { Socket } from 'node:net';
import type { Greeting } from '../protocol/index.js';
import type { BackendKey, LoggedInBackend } from '../backend/login.js';
import type { CommandTarget } from '../backend/query.js';
import type { SessionBaseline } from '../backend/health.js';

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
}

export class BackendEntry implements PooledBackend {
  readonly capabilities: number;
  readonly mariadbCapabilities: number;
  borrows = 0;
  /** This connection counts against its compute's limit (set once a login is under way). */
  holdsPermit = false;
  /** When it last went idle (epoch ms). */
  idleSince = 0;
  baseline: SessionBaseline = { database: null, role: null };
  private conn: LoggedInBackend | null = null;
  private deadReason: string | null = null;
  private readonly onClose = () => this.markDead('connection closed');
  private readonly onIdleData = () => this.markDead('unexpected bytes while idle');
  private readonly onIdleEnd = () => this.markDead('compute ended the connection');

  constructor(readonly id: number, readonly key: BackendKey) {
    this.capabilities = key.capabilities;
    this.mariadbCapabilities = key.mariadbCapabilities;
  }

  get connected(): boolean {
    return this.conn !== null;
  }

  get socket(): Socket {
    return this.live().socket;
  }

  get greeting(): Greeting {
    return this.live().greeting;
  }

  get threadId(): number {
    return this.live().greeting.connectionId;
  }

  get alive(): boolean {
    return this.conn !== null && this.deadReason === null && !this.conn.socket.destroyed;
  }

  /** Why it is not alive, for logs. */
  get deathReason(): string {
    if (!this.conn) return 'not connected';
    return this.deadReason ?? (this.conn.socket.destroyed ? 'connection closed' : 'alive');
  }

  adopt(conn: LoggedInBackend): void {
    this.conn = conn;
    conn.socket.on('close', this.onClose);
    if (conn.socket.destroyed) this.markDead('connection closed');
  }

  markDead(reason: string): void {
    this.deadReason ??= reason;
  }

  /** In the pool: read (and so notice closes and stray bytes). */
  watchIdle(): void {
    const s = this.live().socket;
    this.idleSince = Date.now();
    s.on('data', this.onIdleData);
    s.on('end', this.onIdleEnd);
    s.resume();
  }

  /** Leaving the pool (borrow, ping): stop reading, keep whatever arrives for the next reader. */
  unwatchIdle(): void {
    if (!this.conn) return;
    const s = this.conn.socket;
    s.pause();
    s.off('data', this.onIdleData);
    s.off('end', this.onIdleEnd);
  }

  close(): void {
    if (!this.conn) return;
    this.unwatchIdle();
    this.markDead('destroyed');
    this.conn.socket.destroy();
  }

  private live(): LoggedInBackend {
    if (!this.conn) throw new Error(`backend ${this.id} is not connected`);
    return this.conn;
  }
}
