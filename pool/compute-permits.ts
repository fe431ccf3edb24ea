// How many backend connections one compute may have open (or opening) at once, across
// all its pool keys. A permit is taken before a login and given back when that
// connection is destroyed; waiters are served first come, first served.
//
// A waiter is tagged with its pool key, so when a connection of that key goes idle the
// waiter can be told to borrow it instead of waiting for a permit it does not need.

export class PermitTimeoutError extends Error {
  override readonly name = 'PermitTimeoutError';
}

/** The waiter should borrow the idle connection that just appeared for its key. */
export class ReborrowSignal extends Error {
  override readonly name = 'ReborrowSignal';
}

interface Waiter {
  tag: string;
  resolve: () => void;
  reject: (err: unknown) => void;
  timer: NodeJS.Timeout;
  signal: AbortSignal;
  onAbort: () => void;
}

export class ComputePermits {
  private used = 0;
  private readonly waiters: Waiter[] = [];

  constructor(readonly max: number) {}

  get inUse(): number {
    return this.used;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  /** A permit now, if one is free and nobody is queued for one. */
  tryTake(): boolean {
    if (this.used >= this.max || this.waiters.length > 0) return false;
    this.used++;
    return true;
  }

  /** Wait for a permit until `deadline` (epoch ms) or until `signal` aborts. */
  take(deadline: number, signal: AbortSignal, tag = ''): Promise<void> {
    if (this.tryTake()) return Promise.resolve();
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        tag,
        resolve,
        reject,
        signal,
        timer: setTimeout(
          () => this.drop(waiter, new PermitTimeoutError('no free connection slot')),
          Math.max(0, deadline - Date.now()),
        ),
        onAbort: () => this.drop(waiter, signal.reason),
      };
      signal.addEventListener('abort', waiter.onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  /** A connection holding a permit is gone: hand the permit to the next waiter. */
  give(): void {
    const next = this.waiters.shift();
    if (next) {
      this.settle(next);
      next.resolve();
      return;
    }
    if (this.used > 0) this.used--;
  }

  /** Send the first waiter tagged `tag` off to borrow instead; false if there is none. */
  redirect(tag: string): boolean {
    const waiter = this.waiters.find((w) => w.tag === tag);
    if (!waiter) return false;
    this.drop(waiter, new ReborrowSignal('an idle connection appeared'));
    return true;
  }

  /** Fail every waiter (the compute was suspended, the pool is closing). */
  rejectAll(err: Error): void {
    for (const w of this.waiters.splice(0)) {
      this.settle(w);
      w.reject(err);
    }
  }

  private drop(waiter: Waiter, err: unknown): void {
    const i = this.waiters.indexOf(waiter);
    if (i < 0) return;
    this.waiters.splice(i, 1);
    this.settle(waiter);
    waiter.reject(err);
  }

  private settle(w: Waiter): void {
    clearTimeout(w.timer);
    w.signal.removeEventListener('abort', w.onAbort);
  }
}
