// Pool maintenance in one place, on a timer (as pgbouncer's janitor): close idle
// connections past the idle timeout or found dead, so a compute nobody uses has none
// left and can sleep; forget key pools and computes with nothing left in them.
// Borrow-time checks (alive, ping after pingAfterIdleMs) stay on the borrow path,
// and each waiter has its own deadline, so nothing here is on a client's path.
import type { Logger } from 'pino';
import type { ComputePool } from './compute-pool.js';

export interface JanitorSettings {
  idleTimeoutMs: number;
  evictionIntervalMs: number;
  log: Logger;
}

/** Runs sweep() every evictionIntervalMs until the returned function is called. */
export function startJanitor(computes: Map<string, ComputePool>, s: JanitorSettings): () => void {
  const timer = setInterval(() => sweep(computes, Date.now(), s), s.evictionIntervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

function sweep(computes: Map<string, ComputePool>, now: number, s: JanitorSettings): void {
  const idleBefore = now - s.idleTimeoutMs;
  for (const compute of computes.values()) {
    for (const kp of compute.keys.values()) {
      for (const entry of kp.takeStale(idleBefore)) {
        s.log.debug(
          {
            compute: compute.name,
            user: kp.key.user,
            backend: entry.id,
            reason: entry.alive ? 'idle timeout' : entry.deathReason,
          },
          'idle backend closed',
        );
        compute.close(entry);
      }
      if (kp.unused) {
        compute.keys.delete(kp.id);
        kp.forgotten = true;
      }
    }
    if (compute.keys.size === 0 && compute.open === 0 && compute.waiting === 0) computes.delete(compute.id);
  }
}
