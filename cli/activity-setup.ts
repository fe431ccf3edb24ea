// Turning the activity flags into an activity store, a proxy's reporter and
// the idle scheduler's options; shared by `proxy`, `control-plane` and `dev`.
import type { Logger } from 'pino';
import { MemoryActivityStore } from '../activity/memory-activity-store.js';
import { RedisActivityStore } from '../activity/redis-activity-store.js';
import type { ActivityStore } from '../activity/activity-store.js';
import type { IdleOptions } from '../control-plane/scale-to-zero.js';
import { ActivityReporter } from '../proxy/activity-reporter.js';
import type { ProxyMetrics } from '../proxy/metrics.js';
import { ConfigError, type ParsedValue } from './options.js';

type Values = Record<string, ParsedValue>;

const MIN_REPORT_INTERVAL_MS = 100;

/** Redis when --redis is given; else memory if the caller shares one process (dev), else none. */
export function openActivityStore(values: Values, memoryFallback: boolean): ActivityStore | undefined {
  const interval = values['report-interval'] as number;
  if (interval < MIN_REPORT_INTERVAL_MS) {
    throw new ConfigError([`--report-interval must be at least ${MIN_REPORT_INTERVAL_MS}ms`]);
  }
  const url = values.redis as string | undefined;
  if (url) return new RedisActivityStore({ url, commandTimeoutMs: Math.min(2_000, Math.max(interval, 500)) });
  return memoryFallback ? new MemoryActivityStore() : undefined;
}

export function createReporter(values: Values, store: ActivityStore, logger: Logger, metrics: ProxyMetrics): ActivityReporter {
  return new ActivityReporter({
    store,
    intervalMs: values['report-interval'] as number,
    logger: logger.child({ component: 'activity' }),
    onWrite: (outcome, seconds) => metrics.activityStoreSeconds.observe({ outcome }, seconds),
  });
}

/**
 * The idle scheduler's settings. A proxy may connect with a cached address up
 * to its cache TTL after a wake, and its report of that client lands up to an
 * interval later: the idle timeout must leave room for both.
 */
export function idleOptionsFrom(values: Values, logger: Logger, cacheTtlMs?: number): IdleOptions {
  const idle: IdleOptions = {
    idleTimeoutMs: values['idle-timeout'] as number,
    coldTimeoutMs: values['cold-timeout'] as number,
    reportIntervalMs: values['report-interval'] as number,
  };
  const slack = idle.reportIntervalMs + (cacheTtlMs ?? 0);
  if (idle.idleTimeoutMs > 0 && idle.idleTimeoutMs <= slack) {
    logger.warn(
      { idleTimeoutMs: idle.idleTimeoutMs, reportIntervalMs: idle.reportIntervalMs, cacheTtlMs },
      'idle timeout is not above report interval + cache TTL: a client may find its compute frozen and wait for its connect timeout',
    );
  }
  return idle;
}
