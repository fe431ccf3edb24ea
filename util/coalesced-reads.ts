// Re-reading something (a compute's accounts) on demand without a flood: a caller
// asks for a read that started no earlier than a given moment, so it sees every
// change made before it asked; callers that ask meanwhile share one read, and reads
// start no closer together than the gap a caller allows.

/**
 * Reads of one source: one at a time; a caller that needs a read started at or
 * after some moment joins the running one if it is recent enough, otherwise the
 * single read queued behind it, which starts once the running one is done and
 * `gapMs` after it started (the smallest gap any waiter asked for).
 */
export class CoalescedReads {
  private current: { startedAt: number; promise: Promise<void> } | undefined;
  private lastStart = -Infinity;
  private next: { promise: Promise<void>; gapMs: number; wake: () => void } | undefined;

  constructor(private readonly readOnce: () => Promise<void>) {}

  atLeastFrom(notBefore: number, gapMs: number): Promise<void> {
    if (this.current && this.current.startedAt >= notBefore) return this.current.promise;
    if (this.next) {
      if (gapMs < this.next.gapMs) {
        this.next.gapMs = gapMs;
        this.next.wake();
      }
      return this.next.promise;
    }
    if (!this.current && performance.now() - this.lastStart >= gapMs) return this.begin();
    const entry = { promise: Promise.resolve(), gapMs, wake: () => {} };
    entry.promise = (async () => {
      await this.current?.promise.catch(() => {});
      for (;;) {
        const wait = this.lastStart + entry.gapMs - performance.now();
        if (wait <= 0) break;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, wait);
          entry.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      if (this.next === entry) this.next = undefined;
      return this.begin();
    })();
    this.next = entry;
    return entry.promise;
  }

  /** Resolves once nothing runs or waits. */
  async settled(): Promise<void> {
    while (this.current || this.next) await (this.next?.promise ?? this.current!.promise).catch(() => {});
  }

  private begin(): Promise<void> {
    const entry = { startedAt: performance.now(), promise: Promise.resolve() };
    this.lastStart = entry.startedAt;
    entry.promise = this.readOnce().finally(() => {
      if (this.current === entry) this.current = undefined;
    });
    this.current = entry;
    return entry.promise;
  }
}
