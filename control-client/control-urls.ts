// The control API behind one URL or several (control-plane replicas sharing
// one state store). Each call starts at the next URL, so calls spread over the
// replicas; a URL that gave no answer (refused, reset, unreachable) goes to the
// back of the line for a few seconds, so a dead replica costs one failed try,
// not one per call. A request that got no answer is tried on the next URL:
// wakes and role reads change nothing twice.

/** How long a URL that gave no answer is tried last. */
const BENCH_MS = 5_000;

export class ControlUrls {
  readonly bases: readonly string[];
  private next = 0;
  private readonly downUntil = new Map<string, number>();

  constructor(url: string | readonly string[]) {
    const list = typeof url === 'string' ? [url] : [...url];
    if (list.length === 0) throw new Error('the control API needs at least one URL');
    this.bases = list.map((u) => u.replace(/\/+$/, ''));
  }

  /** Every base URL, starting at a different one each call; those that just failed come last. */
  order(): string[] {
    const n = this.bases.length;
    const start = this.next++ % n;
    const rotated = [...this.bases.slice(start), ...this.bases.slice(0, start)];
    if (this.downUntil.size === 0) return rotated;
    const now = Date.now();
    const up = rotated.filter((b) => !((this.downUntil.get(b) ?? 0) > now));
    return [...up, ...rotated.filter((b) => !up.includes(b))];
  }

  /** The URL gave no answer. */
  failed(base: string): void {
    if (this.bases.length > 1) this.downUntil.set(base, Date.now() + BENCH_MS);
  }

  /** The URL answered. */
  answered(base: string): void {
    this.downUntil.delete(base);
  }

  /**
   * `call` on each URL in order() until one answers (resolves, or rejects with an
   * answer the caller judged); a URL whose call rejects is benched and the next tried.
   * Rejects with the last failure when none answers, or at once once `signal` aborts.
   */
  async first<T>(call: (base: string) => Promise<T>, signal?: AbortSignal): Promise<T> {
    let last: unknown = new Error('no URL tried');
    for (const base of this.order()) {
      try {
        const answer = await call(base);
        this.answered(base);
        return answer;
      } catch (err) {
        if (signal?.aborted) throw err;
        this.failed(base);
        last = err;
      }
    }
    throw last;
  }

  /** "tried 2 URLs" when there are several: for error messages. */
  tried(): string {
    return this.bases.length > 1 ? ` (tried ${this.bases.length} URLs)` : '';
  }
}
