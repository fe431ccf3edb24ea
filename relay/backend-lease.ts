// Transaction pooling: the compute connection a session holds, from the borrow for a
// statement or a transaction to the give-back. An idle pooled connection that is ready
// is taken at once (no promise, abort signal or timer: the common case per statement);
// otherwise the session's queue waits for borrow() (a wake, a login, a queue at the
// compute's limit), which the session's end aborts. While held, the connection's bytes
// and events go to the relay; it is handed back paused, without them.
import type { ReleaseOptions } from '../pool/backend-pool.js';
import type { PooledBackend } from '../pool/pooled-backend.js';
import { forgetStatements } from './connection-statements.js';

export interface LeaseOptions {
  /** A backend for the client's next statement, waking the compute if it sleeps; `signal` aborts the wait. */
  borrow(signal: AbortSignal): Promise<PooledBackend>;
  /** A backend at once when one is ready (no wake, no check, no wait), else null: borrow() then. */
  borrowAtOnce?(): PooledBackend | null;
  giveBack(backend: PooledBackend, opts: ReleaseOptions): void;
  /** The session starts holding `backend`, or (null) stops holding one. */
  onHold?(backend: PooledBackend | null): void;
}

/** What the lease tells its relay. */
export interface LeaseHost {
  readonly ended: boolean;
  /** `b` is held from now on: follow its replies; `replay`: put the client's settings on it. */
  leased(b: PooledBackend, replay: boolean): void;
  /** The held backend goes: stop following it. */
  unleased(): void;
  /** A borrow that waited is over: `got` is held now, or (null) it failed with `failure`. */
  borrowed(got: PooledBackend | null, failure: unknown): void;
  fromServer(chunk: Buffer): void;
  /** The held backend's socket drained. */
  serverDrained(): void;
  serverClosed(): void;
  serverFailed(): void;
}

export class BackendLease {
  /** The backend held now. */
  held: PooledBackend | null = null;
  /** Times a backend was held, the login's included. */
  borrows = 0;
  /** Set while a borrow is under way; aborted if the session ends meanwhile. */
  private borrowing: AbortController | null = null;

  private readonly onData = (chunk: Buffer) => this.host.fromServer(chunk);
  private readonly onDrain = () => this.host.serverDrained();
  private readonly onClose = () => this.host.serverClosed();
  private readonly onError = () => this.host.serverFailed();

  constructor(
    private readonly host: LeaseHost,
    private readonly opts: LeaseOptions,
  ) {}

  /** A borrow is under way: the client's queue waits. */
  get waiting(): boolean {
    return this.borrowing !== null;
  }

  /** Holds a ready idle backend at once if there is one. */
  takeIdle(): boolean {
    const got = this.opts.borrowAtOnce?.();
    if (!got) return false;
    this.hold(got, true);
    return true;
  }

  /** Borrows, however long it takes; the host hears of the outcome (borrowed). */
  async wait(): Promise<void> {
    const borrowing = (this.borrowing = new AbortController());
    let failure: unknown = null;
    let got: PooledBackend | null = null;
    try {
      got = await this.opts.borrow(borrowing.signal);
    } catch (err) {
      failure = err;
    }
    this.borrowing = null;
    if (this.host.ended) {
      if (got) this.opts.giveBack(got, { dirty: false, reset: false });
      return;
    }
    if (got) this.hold(got, true);
    this.host.borrowed(got, failure);
  }

  /** The session ended: a borrow under way stops. */
  abort(): void {
    this.borrowing?.abort(new Error('client went away'));
  }

  /** `replay`: the client's settings go onto it (not for the login's, which goes straight back). */
  hold(b: PooledBackend, replay: boolean): void {
    this.held = b;
    this.borrows++;
    this.host.leased(b, replay);
    const s = b.socket;
    s.on('data', this.onData);
    s.on('drain', this.onDrain);
    s.on('close', this.onClose);
    s.on('error', this.onError);
    s.resume();
    this.opts.onHold?.(b);
  }

  /** Gives the held backend back to the pool. */
  release(opts: ReleaseOptions): void {
    const b = this.detach();
    if (opts.reset || opts.dirty) forgetStatements(b);
    this.opts.giveBack(b, opts);
  }

  /** Stops relaying the held backend and hands it over, paused. */
  detach(): PooledBackend {
    const b = this.held!;
    this.held = null;
    this.host.unleased();
    const s = b.socket;
    s.off('data', this.onData);
    s.off('drain', this.onDrain);
    s.off('close', this.onClose);
    s.off('error', this.onError);
    s.pause();
    this.opts.onHold?.(null);
    return b;
  }
}
