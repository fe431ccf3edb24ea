// Failed-password counters on Redis, shared by every proxy of a deployment, so an
// account is blocked after max_password_errors wrong passwords whichever proxies
// they reached. Key layout: docs/activity-keys.md ("Failed-password counters").
//
// The account part of a key is a digest (names and hosts stay out of Redis). A
// counter lives for TTL_MS after its last failure: the server keeps its own until
// a restart, FLUSH PRIVILEGES or ALTER USER; a week without failures is the
// proxy's stand-in for "someone cleared it".
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { openRedis } from '../util/redis.js';
import type { PasswordErrorStore } from './password-errors.js';

export const PASSWORD_ERRORS_PREFIX = 'wakeproxy:v1:pwerr:';
const TTL_MS = 7 * 24 * 3_600_000;

export interface RedisPasswordErrorsOptions {
  url: string;
  keyPrefix?: string;
  /** Bound on one command; default 1000 ms. */
  commandTimeoutMs?: number;
}

export class RedisPasswordErrors implements PasswordErrorStore {
  readonly kind = 'redis';
  private readonly redis: Redis;
  private readonly prefix: string;

  constructor(opts: RedisPasswordErrorsOptions) {
    this.prefix = opts.keyPrefix ?? PASSWORD_ERRORS_PREFIX;
    this.redis = openRedis(opts.url, { name: 'wake-proxy-password-errors', commandTimeoutMs: opts.commandTimeoutMs ?? 1_000 });
  }

  async count(key: string): Promise<number> {
    const v = await this.redis.get(this.key(key));
    const n = v === null ? 0 : Number(v);
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`password error counter holds '${String(v).slice(0, 20)}'`);
    return n;
  }

  async increment(key: string): Promise<number> {
    const k = this.key(key);
    const replies = await this.redis.multi().incr(k).pexpire(k, TTL_MS).exec();
    const [err, n] = replies?.[0] ?? [new Error('no reply to INCR')];
    if (err) throw err;
    return Number(n);
  }

  async clear(key: string): Promise<void> {
    await this.redis.del(this.key(key));
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }

  private key(key: string): string {
    return this.prefix + createHash('sha256').update(key).digest('base64url');
  }
}
