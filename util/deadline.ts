// A signal that aborts when its parent does or after `ms`, whichever comes
// first, and that is released as soon as the wait ends. AbortSignal.timeout()
// and AbortSignal.any() would do the same, but their timers and weak
// references outlive the wait (for the whole timeout), which adds up on the
// connect path of a busy proxy.
//
// The controller, its timer and the parent listener are made on the first read
// of `signal`: most waits on the connect path end at once (an address or an
// account from a cache hands back a resolved promise without looking at the
// signal), and those should not pay for a timer and an EventTarget listener.

export class TimeoutError extends Error {
  override readonly name = 'TimeoutError';
}

export interface Deadline {
  signal: AbortSignal;
  /** Whether it was the timeout, not the parent, that aborted. */
  readonly timedOut: boolean;
  /** Milliseconds left before the timeout (0 once it passed). */
  remainingMs(): number;
  /** Stop the timer and detach from the parent; call once the wait is over. */
  done(): void;
}

export function deadline(ms: number, parent?: AbortSignal): Deadline {
  return new LazyDeadline(ms, parent);
}

class LazyDeadline implements Deadline {
  private readonly endsAt: number;
  private controller: AbortController | null = null;
  private timer: NodeJS.Timeout | undefined;
  private onParent: (() => void) | undefined;
  private finished = false;
  timedOut = false;

  constructor(
    private readonly ms: number,
    private readonly parent: AbortSignal | undefined,
  ) {
    this.endsAt = performance.now() + ms;
  }

  get signal(): AbortSignal {
    if (this.controller) return this.controller.signal;
    const controller = (this.controller = new AbortController());
    // Once done(), the wait is over: a signal read later never fires.
    if (this.finished) return controller.signal;
    const { parent } = this;
    if (parent?.aborted) {
      controller.abort(parent.reason);
      return controller.signal;
    }
    const left = this.endsAt - performance.now();
    if (left <= 0) {
      this.expire();
      return controller.signal;
    }
    this.timer = setTimeout(() => this.expire(), left);
    if (parent) {
      const onParent = (this.onParent = () => controller.abort(parent.reason));
      parent.addEventListener('abort', onParent, { once: true });
    }
    return controller.signal;
  }

  remainingMs(): number {
    return Math.max(0, Math.round(this.endsAt - performance.now()));
  }

  done(): void {
    this.finished = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.onParent) this.parent!.removeEventListener('abort', this.onParent);
    this.timer = undefined;
    this.onParent = undefined;
  }

  private expire(): void {
    this.timedOut = true;
    this.controller!.abort(new TimeoutError(`timed out after ${this.ms} ms`));
  }
}

/** The promise's outcome, or makeError()'s rejection after ms, whichever comes first. */
export function withDeadline<T>(p: Promise<T>, ms: number, makeError: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(makeError()), ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (err) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
