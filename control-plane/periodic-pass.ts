// A pass that runs every interval on the leader (the idle scheduler's check,
// the autoscaler's samples): one at a time, the next timed from the end of
// the last so a slow pass never overlaps itself; a call while one runs shares
// it; a failure is logged by the owner and answers its fallback, so callers
// never see a rejection.

export class PeriodicPass<T> {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<T> | undefined;
  private closed = false;

  constructor(
    private readonly run: () => Promise<T>,
    private readonly failed: (err: unknown) => T,
    private readonly intervalMs: number,
  ) {}

  start(): void {
    const tick = () => {
      this.timer = setTimeout(() => void this.now().finally(() => !this.closed && tick()), this.intervalMs);
      this.timer.unref();
    };
    tick();
  }

  /** One pass now, or the one under way. */
  now(): Promise<T> {
    this.running ??= this.run()
      .catch(this.failed)
      .finally(() => (this.running = undefined));
    return this.running;
  }

  /** No pass starts after this; resolves once the one under way ended. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.running;
  }
}
