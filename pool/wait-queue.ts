// Borrowers waiting on one compute, first come first served. A waiter leaves the queue
// the moment it is served, its time is up, or its borrower aborts: a borrower that left
// is never handed anything, and nothing of it stays behind (timer, abort listener).
//
// Each waiter carries a tag (its pool key), so a connection given back can go to the
// first waiter that can use it as it is, while a freed connection slot goes to the
// first waiter of any key.
import type { AbortWatch } from '../util/abort.js';

export class WaitQueue<Tag, Grant> {
  /** Insertion order is arrival order; deleting one is O(1) whatever its place. */
  private readonly waiters = new Set<Waiter<Tag, Grant>>();

  get size(): number {
    return this.waiters.size;
  }

  /**
   * Resolves with what serve*() hands this waiter; rejects with `timedOut()` after
   * `timeoutMs`, with the signal's reason when it aborts, or with failAll()'s error.
   */
  wait(tag: Tag, timeoutMs: number, signal: AbortWatch, timedOut: () => Error): Promise<Grant> {
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise<Grant>((resolve, reject) => {
      const waiter = new Waiter(this, tag, resolve, reject, signal, timedOut);
      this.waiters.add(waiter);
      signal.addEventListener('abort', waiter, { once: true });
      waiter.timer = setTimeout(expire, Math.max(0, timeoutMs), waiter);
    });
  }

  /** When the first waiter came (performance.now()), or NaN when nobody waits. */
  firstSince(): number {
    const first = this.waiters.values().next();
    return first.done ? NaN : first.value.since;
  }

  /** How many wait with `tag` (for statistics: it walks the queue). */
  countOf(tag: Tag): number {
    let n = 0;
    for (const waiter of this.waiters) if (waiter.tag === tag) n++;
    return n;
  }

  /** Hand `grant` to the first waiter; false if nobody waits. */
  serveFirst(grant: Grant): boolean {
    const first = this.waiters.values().next();
    if (first.done) return false;
    this.settle(first.value, grant);
    return true;
  }

  /** Hand `grant` to the first waiter tagged `tag`; false if there is none. */
  serveFirstOf(tag: Tag, grant: Grant): boolean {
    for (const waiter of this.waiters) {
      if (waiter.tag !== tag) continue;
      this.settle(waiter, grant);
      return true;
    }
    return false;
  }

  /** Fail every waiter (the compute was suspended, the pool is closing), each with its own error. */
  failAll(errorFor: (tag: Tag) => Error): void {
    for (const waiter of [...this.waiters]) this.drop(waiter, errorFor(waiter.tag));
  }

  /** @internal the waiter's own timeout or abort. */
  drop(waiter: Waiter<Tag, Grant>, err: unknown): void {
    if (!this.leave(waiter)) return;
    waiter.reject(err);
  }

  private settle(waiter: Waiter<Tag, Grant>, grant: Grant): void {
    this.leave(waiter);
    waiter.resolve(grant);
  }

  private leave(waiter: Waiter<Tag, Grant>): boolean {
    if (!this.waiters.delete(waiter)) return false;
    clearTimeout(waiter.timer);
    waiter.signal.removeEventListener('abort', waiter);
    return true;
  }
}

/** One borrower in the queue; it is its own abort listener, so waiting costs no closures. */
class Waiter<Tag, Grant> {
  timer: NodeJS.Timeout | undefined;
  readonly since = performance.now();

  constructor(
    readonly queue: WaitQueue<Tag, Grant>,
    readonly tag: Tag,
    readonly resolve: (grant: Grant) => void,
    readonly reject: (err: unknown) => void,
    readonly signal: AbortWatch,
    readonly timedOut: () => Error,
  ) {}

  handleEvent(): void {
    this.queue.drop(this, this.signal.reason);
  }
}

function expire<Tag, Grant>(waiter: Waiter<Tag, Grant>): void {
  waiter.queue.drop(waiter, waiter.timedOut());
}
