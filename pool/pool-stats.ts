// The pool's counts as people and metrics read them: per compute and in total (the
// /metrics gauges, BackendPools.stats()) and per key (the admin console's SHOW POOLS,
// BackendPools.keyStats()). Summed from the compute pools on request (idle list
// lengths, open slots, the wait queue): nothing is counted on the borrow path for them.
import type { BackendAddress } from '../backend/address.js';
import type { ComputePool, PoolCounts } from './compute-pool.js';

export interface BackendPoolStats {
  total: PoolCounts;
  /** Keyed by "host:port". Computes being dropped are not listed. */
  computes: Record<string, PoolCounts>;
}

/** One pool key's connections (the admin console's SHOW POOLS). */
export interface KeyPoolStats {
  addr: BackendAddress;
  user: string;
  database: string | null;
  counts: PoolCounts;
  /** The compute's connection limit, over all its keys. */
  max: number;
}

export function poolStats(computePools: Map<string, ComputePool>): BackendPoolStats {
  const total: PoolCounts = { inUse: 0, idle: 0, waiting: 0, open: 0 };
  const computes: Record<string, PoolCounts> = {};
  for (const compute of computePools.values()) {
    const c = compute.counts();
    computes[compute.id] = c;
    total.inUse += c.inUse;
    total.idle += c.idle;
    total.waiting += c.waiting;
    total.open += c.open;
  }
  return { total, computes };
}

/** Walks every key and waiter: for a person asking, not for a scrape loop. */
export function keyPoolStats(computePools: Map<string, ComputePool>): KeyPoolStats[] {
  const out: KeyPoolStats[] = [];
  for (const compute of computePools.values()) {
    for (const kp of compute.keys.values()) {
      const { addr, user, database } = kp.key;
      out.push({ addr, user, database, counts: compute.keyCounts(kp), max: compute.max });
    }
  }
  return out;
}
