// A rate limit that allows short bursts: `ratePerSec` tokens refill each second, up to `ratePerSec`.
export class TokenBucket {
  private tokens: number;
  private last = performance.now();

  constructor(private readonly ratePerSec: number) {
    this.tokens = ratePerSec;
  }

  take(): boolean {
    this.refill();
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  get full(): boolean {
    this.refill();
    return this.tokens >= this.ratePerSec;
  }

  private refill(): void {
    const now = performance.now();
    this.tokens = Math.min(this.ratePerSec, this.tokens + ((now - this.last) / 1000) * this.ratePerSec);
    this.last = now;
  }
}
