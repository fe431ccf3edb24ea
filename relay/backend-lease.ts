// Transaction pooling: the compute connection a session holds, from the borrow for a
// statement or a transaction to the give-back. An idle pooled connection that is ready
// is taken at once (no promise, abort signal or timer: the common case per statement);
// otherwise the session's queue waits for borrow() (a wake, a login, a queue at the
// compute's limit), which the session's end aborts.
//
// A borrow happens per statement in autocommit, so holding costs as little as pipe
// mode's relay: while held, the connection's reads go straight to the relay
// (backend-socket.ts divert(), past the Readable machinery), and its drain, close and
// error listeners are module functions added once for the connection's life, which
// look up who holds it now; a borrow adds and removes none. A connection made
// elsewhere (TLS to the compute) is read through 'data' events instead. It is handed
// back paused and reading, as the pool lends it.
import type { Socket } from 'node:net';
import { divert, undivert, type ReadSink } from '../backend/backend-socket.js';
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
  /** Bytes the held backend sent; false: stop reading it until resume(). */
  fromServer(chunk: Buffer): boolean;
  /** The held backend's socket drained. */
  serverDrained(): void;
  serverClosed(): void;
  serverFailed(): void;
}

/** Who holds each compute socket now (null: nobody); a socket in here has the listeners below. */
const holders = new WeakMap<Socket, BackendLease | null>();

// Listeners for a socket's life: `this` is the socket that emitted.
function onDrain(this: Socket): void {
  holders.get(this)?.host.serverDrained();
}
function onClose(this: Socket): void {
  holders.get(this)?.host.serverClosed();
}
function onError(this: Socket): void {
  holders.get(this)?.host.serverFailed();
}

export class BackendLease implements ReadSink {
  /** The backend held now. */
  held: PooledBackend | null = null;
  /** Times a backend was held, the login's included. */
  borrows = 0;
  /** Set while a borrow is under way; aborted if the session ends meanwhile. */
  private borrowing: AbortController | null = null;
  /** The held socket's reads come through onBackendData (else through 'data'). */
  private diverted = false;
  /** Reading the held socket stopped (the client could not take more) and was not resumed since. */
  private stopped = false;

  /** For a socket that cannot be diverted. */
  private readonly onData = (chunk: Buffer) => {
    if (!this.onBackendData(chunk)) this.held!.socket.pause();
  };

  constructor(
    readonly host: LeaseHost,
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
    if (!holders.has(s)) {
      s.on('drain', onDrain);
      s.on('close', onClose);
      s.on('error', onError);
    }
    holders.set(s, this);
    // Bytes that came while it was paused go first (divert passes them on).
    this.diverted = divert(s, this);
    if (!this.diverted) {
      s.on('data', this.onData);
      s.resume();
    }
    this.opts.onHold?.(b);
  }

  /** The held backend's bytes; false stops reading it until resume(). */
  onBackendData(chunk: Buffer): boolean {
    const b = this.held;
    // Given back while its bytes were relayed: it is the pool's now, and must go on reading.
    if (this.host.fromServer(chunk) || this.held !== b) return true;
    this.stopped = true;
    return false;
  }

  /** Reads the held backend again (the client drained). */
  resume(): void {
    const b = this.held;
    if (!b) return;
    this.stopped = false;
    b.socket.resume();
  }

  /** Gives the held backend back to the pool. */
  release(opts: ReleaseOptions): void {
    const b = this.detach();
    if (opts.reset || opts.dirty) forgetStatements(b);
    this.opts.giveBack(b, opts);
  }

  /** Stops relaying the held backend and hands it over, paused (reading, if diverted). */
  detach(): PooledBackend {
    const b = this.held!;
    this.held = null;
    this.host.unleased();
    const s = b.socket;
    holders.set(s, null);
    if (this.diverted) {
      undivert(s);
      // Reading again (paused in the Readable's sense only, as a pooled socket is).
      if (this.stopped) s.resume();
      if (s.readableFlowing) s.pause();
    } else {
      s.off('data', this.onData);
      s.pause();
    }
    this.stopped = false;
    this.opts.onHold?.(null);
    return b;
  }
}
