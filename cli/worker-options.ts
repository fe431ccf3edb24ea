// `--workers n`: what n > 1 needs and what it refuses, and each worker's share of
// the limits. A worker is one more proxy sharing Redis with the others, so what is
// shared already goes through Redis (session ids, KILL, failed-password counts,
// activity); what each process counts alone (connections, rates, pools) is split.
import { ConfigError } from './options.js';

export const MAX_WORKERS = 64;

interface WorkerValues {
  workers: number;
  redis?: string;
  'admin-mysql-port'?: number;
}

/** Throws a ConfigError for a worker count out of range or a combination n > 1 cannot serve correctly. */
export function checkWorkers(values: WorkerValues): void {
  const n = values.workers;
  if (!Number.isInteger(n) || n < 1 || n > MAX_WORKERS) throw new ConfigError([`--workers: expected 1 to ${MAX_WORKERS}, got ${n}`]);
  if (n === 1) return;
  const problems: string[] = [];
  if (!values.redis) {
    problems.push(
      `--workers ${n} needs --redis: the workers share KILL, failed-password counts and activity through it (without it a KILL reaching another worker would get 1094 and max_password_errors would be counted ${n} times)`,
    );
  }
  if (values['admin-mysql-port'] !== undefined) {
    problems.push(`--workers ${n} excludes --admin-mysql-port: the admin console would see only one worker's sessions`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
}

/**
 * Limits each process enforces alone, divided among n workers (rounded up, so the
 * whole is at most n - 1 over the configured figure). Connection and waiting counts,
 * pooled connections per compute (so a compute sees about the configured number over
 * all workers), and the per-second and per-minute rates: the kernel spreads clients
 * over the workers, so each sees about 1/n of a project's connects, wakes and failed
 * logins from one address.
 */
const SPLIT = [
  'max-connections',
  'max-connections-per-project',
  'max-waiting-per-project',
  'pool-max-per-compute',
  'connection-rate-per-project',
  'wake-rate-per-project',
  'max-auth-failures-per-minute',
] as const;

type Split = (typeof SPLIT)[number];

/** `values` with each split limit replaced by its share; unchanged for one worker. */
export function workerShares<V extends { workers: number } & Partial<Record<Split, number>>>(values: V): V {
  const n = values.workers;
  if (n === 1) return values;
  const shared: Record<string, unknown> = { ...values };
  for (const name of SPLIT) {
    const limit = values[name];
    if (limit !== undefined) shared[name] = shareOf(limit, n);
  }
  return shared as V;
}

/** One worker's share of `limit`: ceil(limit / n). 0 stays 0 (for the rates that means no limit). */
export function shareOf(limit: number, n: number): number {
  return Math.ceil(limit / n);
}
