// Turning the activity flags into an activity store, a proxy's reporter and
// the idle scheduler's options; shared by `proxy`, `control-plane` and `dev`.
import type { Logger } from 'pino';
import { RedisActivityStore } from '../activity/redis-activity-store.js';
import type { ActivityStore } from '../activity/activity-store.js';
import type { IdleOptions } from '../control-plane/scale-to-zero.js';
import { ActivityReporter } from '../proxy/activity-reporter.js';
import type { ProxyMetrics } from '../proxy/metrics.js';
import { ConfigError } from './options.js';
import type { OptionValues } from './option-spec.js';
import type { ACTIVITY_OPTIONS } from './common-options.js';
import type { IDLE_OPTIONS } from './control-plane-options.js';

type ActivityValues = OptionValues<typeof ACTIVITY_OPTIONS>;

const MIN_REPORT_INTERVAL_MS = 100;

/** Redis when --redis is given, else none (`dev`, one process, falls back to memory itself). */
export function openActivityStore(values: ActivityValues): ActivityStore | undefined {
  const interval = values['report-interval'];
  if (interval < MIN_REPORT_INTERVAL_MS) {
    throw new ConfigError([`--report-interval must be at least ${MIN_REPORT_INTERVAL_MS}ms`]);
  }
  const url = values.redis;
  return url ? new RedisActivityStore({ url, commandTimeoutMs: Math.min(2_000, Math.max(interval, 500)) }) : undefined;
}

export function createReporter(values: ActivityValues, store: ActivityStore, logger: Logger, metrics: ProxyMetrics): ActivityReporter {
  return new ActivityReporter({
    store,
    intervalMs: values['report-interval'],
    logger: logger.child({ component: 'activity' }),
    onWrite: (outcome, seconds) => metrics.activityStoreSeconds.observe({ outcome }, seconds),
  });
}

/**
 * The idle scheduler's settings. A proxy may connect with a cached address up
 * to its cache TTL after a wake, and its report of that client lands up to an
 * interval later: the idle timeout must leave room for both.
 */
export function idleOptionsFrom(
  values: ActivityValues & OptionValues<typeof IDLE_OPTIONS>,
  logger: Logger,
  cacheTtlMs?: number,
): IdleOptions {
  const idle: IdleOptions = {
    idleTimeoutMs: values['idle-timeout'],
    coldTimeoutMs: values['cold-timeout'],
    reportIntervalMs: values['report-interval'],
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
