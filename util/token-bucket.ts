// A rate limit that allows short bursts: `rate` tokens refill every `periodMs`
// (a second by default), up to `rate`.
export class TokenBucket {
  private tokens: number;
  private last = performance.now();

  constructor(
    private readonly rate: number,
    private readonly periodMs = 1_000,
  ) {
    this.tokens = rate;
  }

  /** Whether a token is there, without taking it. */
  peek(): boolean {
    this.refill();
    return this.tokens >= 1;
  }

  take(): boolean {
    this.refill();
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  get full(): boolean {
    this.refill();
    return this.tokens >= this.rate;
  }

  private refill(): void {
    const now = performance.now();
    this.tokens = Math.min(this.rate, this.tokens + ((now - this.last) / this.periodMs) * this.rate);
    this.last = now;
  }
}
