// One way to open Redis for the proxy's shared state (activity, failed passwords):
// commands fail fast instead of queueing while Redis is away, and reconnects go on
// for as long as the process lives.
import { Redis } from 'ioredis';

export interface RedisOptions {
  /** Shown in CLIENT LIST, so an operator can tell the proxy's connections apart. */
  name: string;
  commandTimeoutMs: number;
}

export function openRedis(url: string, o: RedisOptions): Redis {
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: o.commandTimeoutMs,
    connectTimeout: 2_000,
    retryStrategy: (times) => Math.min(times * 100, 1_000),
    connectionName: o.name,
  });
  // Failures reach callers through rejected commands; without a listener ioredis
  // would print every reconnect attempt to the console.
  redis.on('error', () => {});
  return redis;
}

/** Resolves once `redis` can take commands (with the offline queue off, a command before that fails at once). */
export function redisReady(redis: Redis, timeoutMs: number): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      redis.off('ready', onReady);
      reject(new Error(`Redis not ready within ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = () => {
      clearTimeout(timer);
      resolve();
    };
    redis.once('ready', onReady);
  });
}
