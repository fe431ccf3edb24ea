// When a compute's pool opens a connection for borrowers that found none idle (transaction
// pooling's grow delay). A connection lent for a statement comes back within milliseconds,
// so a borrower whose key has connections out waits for one instead of opening another at
// once; growth is for demand that lasts, not for a moment when all happened to be out.
//
// Growth is decided once per window of at least `delayMs`, by a check that runs while
// borrowers wait (one timer per compute, none otherwise), after the event loop has read
// pending I/O: the connections given back that would serve the waiters. It waits while
//   - a login is in flight: its connection may be all the waiters need, and a compute
//     slow to log in is busy (more connections would not help it);
//   - the check ran late (once): the proxy itself was held up (busy cores, a long GC)
//     and the queue built up behind it, not behind the pool.
// Then a waiter gets a new connection when, over the window,
//   - borrowers kept waiting: at least one borrow in WAIT_RATIO waited (fewer: the
//     connections there serve the load, and the waits were coincidences);
//   - the queue is not draining on its own: shorter than after the last decision, with
//     as many served in the window as still wait (a burst that a delay more empties);
//   - connections came back at all (while nothing comes back, the compute or the proxy
//     may have stalled, and a new connection would stall too);
// or when the longest waiting borrower has waited LONG_WAIT delays, whatever those say:
// clients may hold their connections in transactions (which only a longer wait tells
// from a stall), or other keys' borrows may be what makes the waits look rare.
// So the pool grows by one connection per delay at most, and load that keeps borrowers
// waiting grows it by one every delay or two until waits are rare again.

/** What a growth check needs of its compute. */
export interface Growable {
  readonly waiting: number;
  /** When the longest waiting borrower came (performance.now()). */
  readonly waitingSince: number;
  /** Logins in flight. */
  readonly opening: number;
  readonly dropped: boolean;
  /** A connection for the first waiter; false at the limit with nothing idle to close. */
  growForFirstWaiter(): boolean;
}

/** Grow when at least 1 borrow in this many waited over the window. */
const WAIT_RATIO = 16;
/** A borrower that has waited this many delays gets a connection whatever the load says. */
const LONG_WAIT = 8;

export class PoolGrowth {
  /** Borrowers that found nothing idle and queued, in the window (not counting those already waiting). */
  waits = 0;
  /** Connections given back (to a waiter or idle), in the window. */
  returns = 0;
  /** A check is scheduled (its timer, then setImmediate). */
  private scheduled = false;
  private timer: NodeJS.Timeout | undefined;
  /** performance.now() times: when the window began, and when the scheduled check is due. */
  private windowStart = -Infinity;
  private due = 0;
  /** The last check ran late and decided nothing. */
  private lateBefore = false;
  /** Borrowers waiting when the window began (0 after a quiet spell). */
  private queuedAtDecision = 0;

  constructor(
    private readonly pool: Growable,
    readonly delayMs: number,
  ) {}

  /** A borrower queued. After a quiet spell it opens a new window: what happened before says nothing of now. */
  waited(): void {
    if (!this.scheduled) {
      const now = performance.now();
      if (now - this.windowStart > 2 * this.delayMs) this.newWindow(now, 0);
      this.schedule(this.windowStart + this.delayMs - now);
    }
    this.waits++;
  }

  /** The compute was dropped: no more checks. */
  stop(): void {
    clearTimeout(this.timer);
  }

  /** @internal the check (see the file's comment). */
  check(): void {
    this.scheduled = false;
    const { pool } = this;
    if (pool.dropped || pool.waiting === 0) return;
    const now = performance.now();
    // Timers count from the event loop's cached clock, and may fire a little early by this one.
    if (now < this.due) return this.schedule(this.due - now);
    if (pool.opening > 0) return this.schedule(this.delayMs);
    const queued = pool.waiting;
    const late = now - this.due > this.delayMs && !this.lateBefore;
    this.lateBefore = late;
    if (late) return this.decided(now, queued);
    const longWaitFrom = pool.waitingSince + LONG_WAIT * this.delayMs;
    if (now < longWaitFrom) {
      if (this.returns === 0) return this.schedule(Math.min(this.delayMs, longWaitFrom - now));
      // Borrowers that waited in the window: those already waiting when it began, and those that came.
      const waited = this.queuedAtDecision + this.waits;
      const left = waited - queued;
      const draining = queued < this.queuedAtDecision && left >= queued;
      if (waited * WAIT_RATIO < this.returns || draining) return this.decided(now, queued);
    }
    // At the limit with nothing idle to close, slots freed and connections given back go to the waiters.
    if (!pool.growForFirstWaiter() || pool.waiting > 0) return this.decided(now, pool.waiting);
    this.newWindow(now, 0);
  }

  private decided(now: number, queued: number): void {
    this.newWindow(now, queued);
    this.schedule(this.delayMs);
  }

  private newWindow(now: number, queued: number): void {
    this.windowStart = now;
    this.waits = 0;
    this.returns = 0;
    this.queuedAtDecision = queued;
  }

  private schedule(inMs: number): void {
    const ms = Math.max(0, inMs);
    this.scheduled = true;
    this.due = performance.now() + ms;
    this.timer = setTimeout(checkAfterIo, ms, this);
  }
}

/**
 * Timers run before the event loop polls for I/O: after a stall the connections given
 * back that would empty the queue are still unread, so the check runs after the poll.
 */
function checkAfterIo(growth: PoolGrowth): void {
  setImmediate(checkNow, growth);
}

function checkNow(growth: PoolGrowth): void {
  growth.check();
}
