// The greeting proxies sharing Redis have learned, so a proxy that starts in front of
// a control plane or Kubernetes (no compute known before a client names its project)
// greets its first clients as the computes do rather than with the built-in profile.
// Key and value: docs/activity-keys.md ("The shared greeting").
//
// Off the login path: a write happens only when a proxy's profile changes, later, at
// most one a second and one at a time, the latest facts winning; nobody waits for it.
// A failed write is logged at most once a minute and retried at the next change. The
// key lives a week, renewed by each write and once a day by every proxy running, so
// the greeting of a deployment whose computes never change stays.
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { openRedis, redisReady } from '../util/redis.js';
import { checkFacts, formatGreetingFacts, parseGreetingFacts, sameFacts, type GreetingFacts } from '../backend/greeting-facts.js';

export const SHARED_GREETING_KEY = 'wakeproxy:v1:greeting';

export interface SharedGreetingOptions {
  url: string;
  logger: Logger;
  /** Default SHARED_GREETING_KEY. */
  key?: string;
  /** Bound on the read at start, connecting included; default 1000 ms. */
  readTimeoutMs?: number;
  /** Default 7 days. */
  ttlMs?: number;
  /** How often a running proxy renews the TTL; default a day. */
  renewMs?: number;
  /** Least time between two writes; default 1000 ms. */
  writeGapMs?: number;
}

const WARN_GAP_MS = 60_000;

export class SharedGreeting {
  private readonly redis: Redis;
  private readonly key: string;
  private readonly logger: Logger;
  private readonly readTimeoutMs: number;
  private readonly ttlMs: number;
  private readonly writeGapMs: number;
  /** What Redis holds, as far as this proxy knows: read at start, or last written. */
  private known: GreetingFacts | undefined;
  private pending: GreetingFacts | undefined;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;
  private lastWriteAt = -Infinity;
  private lastWarnAt = -Infinity;
  private readonly renewal: NodeJS.Timeout;
  private closed = false;

  constructor(o: SharedGreetingOptions) {
    this.key = o.key ?? SHARED_GREETING_KEY;
    this.logger = o.logger;
    this.readTimeoutMs = o.readTimeoutMs ?? 1_000;
    this.ttlMs = o.ttlMs ?? 7 * 24 * 3_600_000;
    this.writeGapMs = o.writeGapMs ?? 1_000;
    this.redis = openRedis(o.url, { name: 'wake-proxy-greeting', commandTimeoutMs: this.readTimeoutMs });
    this.renewal = setInterval(() => this.renew(), o.renewMs ?? 24 * 3_600_000);
    this.renewal.unref();
  }

  /**
   * The facts other proxies stored, checked, to greet with from the start; undefined
   * when there is nothing to trust (Redis away, no key, a value that does not check),
   * said in one log line.
   */
  async read(): Promise<GreetingFacts | undefined> {
    let text: string | null;
    try {
      text = await this.get();
    } catch (err) {
      this.logger.warn(
        { err: (err as Error).message },
        'could not read the shared greeting from Redis at start: until a client logs in, clients are greeted with the proxy\'s built-in profile',
      );
      return undefined;
    }
    if (text === null) {
      this.logger.info('no shared greeting in Redis yet: until a client logs in, clients are greeted with the proxy\'s built-in profile');
      return undefined;
    }
    try {
      this.known = parseGreetingFacts(text);
      return this.known;
    } catch (err) {
      this.logger.warn(
        { key: this.key, reason: (err as Error).message },
        'ignored the shared greeting in Redis: until a client logs in, clients are greeted with the proxy\'s built-in profile',
      );
      return undefined;
    }
  }

  /** A GreetingChange: store what the profile learned for the proxies that start next. */
  readonly offer = (facts: GreetingFacts): void => {
    if (this.closed) return;
    this.pending = facts;
    this.schedule();
  };

  /** Writes what is pending (bounded by the command timeout), then lets go of Redis. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.renewal);
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.writing;
    await this.flush();
    this.redis.disconnect();
  }

  private get(): Promise<string | null> {
    const get = redisReady(this.redis, this.readTimeoutMs).then(() => this.redis.get(this.key));
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer from Redis within ${this.readTimeoutMs} ms`)), this.readTimeoutMs);
    });
    get.catch(() => undefined); // when `late` wins
    return Promise.race([get, late]).finally(() => clearTimeout(timer));
  }

  private schedule(): void {
    if (this.timer || this.writing) return;
    const wait = Math.max(0, this.lastWriteAt + this.writeGapMs - performance.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.writing = this.flush().finally(() => {
        this.writing = undefined;
        if (this.pending && !this.closed) this.schedule();
      });
    }, wait);
    this.timer.unref();
  }

  private async flush(): Promise<void> {
    const facts = this.pending;
    this.pending = undefined;
    if (!facts || (this.known && sameFacts(facts, this.known))) return;
    try {
      checkFacts(facts); // what readers would refuse is not worth storing
    } catch (err) {
      this.warn(err, 'a compute\'s greeting is not one proxies would read back: not shared');
      return;
    }
    this.lastWriteAt = performance.now();
    try {
      await this.redis.set(this.key, formatGreetingFacts(facts, Date.now()), 'PX', this.ttlMs);
      this.known = facts;
    } catch (err) {
      this.warn(err, 'could not write the shared greeting to Redis: proxies starting next greet with what Redis held');
    }
  }

  private renew(): void {
    this.redis.pexpire(this.key, this.ttlMs).catch((err: unknown) => this.warn(err, 'could not renew the shared greeting in Redis'));
  }

  private warn(err: unknown, msg: string): void {
    const now = performance.now();
    if (now - this.lastWarnAt < WARN_GAP_MS) return;
    this.lastWarnAt = now;
    this.logger.warn({ err: (err as Error).message }, msg);
  }
}
