// `--workers n` (cli/worker-options.ts): what it refuses, and each worker's share of the limits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkWorkers, shareOf, workerShares } from '../../cli/worker-options.js';
import { ConfigError } from '../../cli/options.js';

test('one worker needs nothing; more need Redis and exclude the admin console; 1 to 64', () => {
  checkWorkers({ workers: 1 });
  checkWorkers({ workers: 1, 'admin-mysql-port': 6033 });
  checkWorkers({ workers: 64, redis: 'redis://r:6379' });
  const problems = (v: Parameters<typeof checkWorkers>[0]) => {
    try {
      checkWorkers(v);
      return [];
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      return err.problems;
    }
  };
  assert.equal(problems({ workers: 2, 'admin-mysql-port': 0 }).length, 2, 'both problems at once');
  assert.match(problems({ workers: 2 })[0]!, /needs --redis/);
  assert.match(problems({ workers: 0 })[0]!, /expected 1 to 64, got 0/);
  assert.match(problems({ workers: 65, redis: 'redis://r' })[0]!, /expected 1 to 64, got 65/);
});

test('each worker gets ceil(limit / n) of the limits each process counts alone; the rest stays', () => {
  const values = {
    workers: 3,
    'max-connections': 20_000,
    'max-connections-per-project': 10,
    'max-waiting-per-project': 2_000,
    'pool-max-per-compute': 100,
    'connection-rate-per-project': 1,
    'wake-rate-per-project': 20,
    'max-auth-failures-per-minute': 30,
    'pool-max-statements': 256,
    'connect-timeout': 5_000,
  };
  assert.deepEqual(workerShares(values), {
    ...values,
    'max-connections': 6_667,
    'max-connections-per-project': 4,
    'max-waiting-per-project': 667,
    'pool-max-per-compute': 34,
    'connection-rate-per-project': 1,
    'wake-rate-per-project': 7,
    'max-auth-failures-per-minute': 10,
  });
  const unset = { workers: 2, 'max-connections': 100 } as { workers: number; 'max-connections': number; 'max-connections-per-project'?: number };
  assert.deepEqual(workerShares(unset), { workers: 2, 'max-connections': 50 }, 'an unset limit stays unlimited');
  assert.equal(shareOf(0, 4), 0, 'a rate of 0 (no limit) stays 0');
});

test('one worker keeps the values as given', () => {
  const values = { workers: 1, 'max-connections': 20_000 };
  assert.equal(workerShares(values), values);
});
