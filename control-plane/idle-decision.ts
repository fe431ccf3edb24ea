// Whether a compute should be suspended now, and to which tier: the rule the
// idle scheduler applies, as a pure function so it can be tested on its own.
//
//   active, no clients, nothing since the idle timeout   -> freeze (or stop without a cold tier)
//   frozen for the cold timeout, no clients              -> stop
//
// "Nothing" means no activity reported by any proxy, no wake answered by the
// control plane (a proxy may connect with a cached address for a while after
// one), and no transition of the compute itself. A time in the future (clock
// skew between proxies and control plane) counts as now.
import type { SuspendTier } from './drivers/driver.js';
import type { ComputeState } from './records.js';

export interface IdleRules {
  idleTimeoutMs: number;
  /** Time frozen before a real stop; 0 skips the frozen tier. */
  coldTimeoutMs: number;
}

export interface ComputeFacts {
  state: ComputeState;
  /** When the compute entered its state (Unix ms). */
  since: number;
  /** The last wake the control plane answered for it. */
  lastWakeAt?: number | undefined;
  /** Clients connected now over all live proxies. */
  clients: number;
  /** The last activity any proxy reported for its project. */
  lastActiveAt?: number | undefined;
}

export function idleTier(f: ComputeFacts, rules: IdleRules, now: number): SuspendTier | undefined {
  // Someone is connected: suspending would hang (freeze) or cut (stop) their session.
  if (f.clients > 0) return undefined;
  if (f.state === 'active') {
    const lastUse = Math.max(f.since, f.lastWakeAt ?? 0, f.lastActiveAt ?? 0);
    if (now - lastUse < rules.idleTimeoutMs) return undefined;
    return rules.coldTimeoutMs > 0 ? 'freeze' : 'stop';
  }
  if (f.state === 'frozen') {
    return now - f.since >= rules.coldTimeoutMs ? 'stop' : undefined;
  }
  // starting, stopping: an operation is under way; stopped, failed: nothing runs.
  return undefined;
}

/** How often to look: a fifth of the idle timeout, at least every 200 ms, at most every minute. */
export function defaultCheckIntervalMs(idleTimeoutMs: number): number {
  return Math.min(60_000, Math.max(200, Math.round(idleTimeoutMs / 5)));
}
