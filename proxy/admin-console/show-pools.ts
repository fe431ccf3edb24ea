// SHOW POOLS: pooled compute connections per compute and user, as the pools count
// them when asked, with the sessions pinned to them by reason (from the sessions'
// own fields). Empty in pipe mode, which pools nothing.
import type { BackendPools } from '../../pool/backend-pool.js';
import type { SessionContext } from '../session-context.js';
import { computeKey } from '../kill/session-registry.js';
import { rows, type ConsoleColumn, type ConsoleReply } from './console-reply.js';

export const POOL_COLUMNS: readonly ConsoleColumn[] = [
  { name: 'compute', kind: 'text' },
  { name: 'address', kind: 'text' },
  { name: 'user', kind: 'text' },
  /** The compute's connection limit (--pool-max-per-compute), over all its users. */
  { name: 'max', kind: 'int' },
  /** Logged-in connections of this user: in_use + idle. */
  { name: 'open', kind: 'int' },
  { name: 'in_use', kind: 'int' },
  { name: 'idle', kind: 'int' },
  /** Borrowers queued for a connection (the compute is at its limit). */
  { name: 'waiting', kind: 'int' },
  /** Transaction-pooled sessions pinned to one of these connections. */
  { name: 'pinned', kind: 'int' },
  /** The pinned sessions by reason, e.g. `lock=1,user_variable=2`. */
  { name: 'pin_reasons', kind: 'text' },
];

interface PoolRow {
  compute: string;
  address: string;
  user: string;
  max: number;
  open: number;
  inUse: number;
  idle: number;
  waiting: number;
  pins: Map<string, number>;
}

export function showPools(pools: BackendPools | undefined, sessions: Iterable<SessionContext>): ConsoleReply {
  const byKey = new Map<string, PoolRow>();
  const row = (compute: string, address: string, user: string): PoolRow => {
    const key = `${compute}\0${user}`;
    let r = byKey.get(key);
    if (!r) byKey.set(key, (r = { compute, address, user, max: 0, open: 0, inUse: 0, idle: 0, waiting: 0, pins: new Map() }));
    return r;
  };
  // A user's keys differ by database, capabilities or account version: added up.
  for (const k of pools?.keyStats() ?? []) {
    const r = row(computeKey(k.addr), `${k.addr.host}:${k.addr.port}`, k.user);
    r.max = k.max;
    r.open += k.counts.open;
    r.inUse += k.counts.inUse;
    r.idle += k.counts.idle;
    r.waiting += k.counts.waiting;
  }
  for (const s of sessions) {
    if (s.pin === null || !s.target || s.user === undefined) continue;
    // A pinned session holds a connection, so its row is there unless the pools closed (drained).
    const r = byKey.get(`${s.target.compute}\0${s.user}`) ?? row(s.target.compute, '', s.user);
    r.pins.set(s.pin, (r.pins.get(s.pin) ?? 0) + 1);
  }
  const data = [...byKey.values()]
    .sort((a, b) => a.compute.localeCompare(b.compute) || a.user.localeCompare(b.user))
    .map((r) => {
      const pinned = [...r.pins.values()].reduce((a, b) => a + b, 0);
      const reasons = [...r.pins].sort(([a], [b]) => a.localeCompare(b)).map(([reason, n]) => `${reason}=${n}`);
      return [r.compute, r.address || null, r.user, r.max, r.open, r.inUse, r.idle, r.waiting, pinned, reasons.join(',') || null];
    });
  return rows(POOL_COLUMNS, data);
}
