// A signal that aborts when its parent does or after `ms`, whichever comes
// first, and that is released as soon as the wait ends. AbortSignal.timeout()
// and AbortSignal.any() would do the same, but their timers and weak
// references outlive the wait (for the whole timeout), which adds up on the
// connect path of a busy proxy.

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
  const controller = new AbortController();
  const endsAt = performance.now() + ms;
  let timedOut = false;
  const onParent = () => controller.abort(parent!.reason);
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new TimeoutError(`timed out after ${ms} ms`));
  }, ms);
  if (parent?.aborted) onParent();
  else parent?.addEventListener('abort', onParent, { once: true });
  return {
    signal: controller.signal,
    get timedOut() {
      return timedOut;
    },
    remainingMs: () => Math.max(0, Math.round(endsAt - performance.now())),
    done() {
      clearTimeout(timer);
      parent?.removeEventListener('abort', onParent);
    },
  };
}
