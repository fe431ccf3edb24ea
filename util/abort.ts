// Waiting on something shared without being bound to it, and what a wait needs of an abort.

/**
 * What a wait needs of an abort: AbortSignal has it, and so does a session's own
 * (proxy/session-context.ts), which makes no AbortSignal until something needs a
 * real one: at thousands of logins a second, one a login cost about 2 % of the CPU.
 */
export interface AbortWatch {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: 'abort', listener: AbortListener, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: AbortListener): void;
}

/** A function, or an object that is its own listener (a pool's waiter: no closure per wait). */
export type AbortListener = (() => void) | { handleEvent(): void };

/**
 * `promise`, or the signal's reason if it aborts first. The promise runs on
 * regardless: one impatient waiter does not cancel what others wait for.
 */
export function raceSignal<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
