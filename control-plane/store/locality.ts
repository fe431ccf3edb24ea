// Whether another control plane's process is gone, when it ran on this very
// kernel in this very pid namespace: then its pid says so at once, without
// waiting for its heartbeat to go stale. Anywhere else (another host, another
// container's namespace) a pid means nothing and only the heartbeat counts.
import { randomBytes } from 'node:crypto';
import { readFileSync, readlinkSync } from 'node:fs';

let cached: string | undefined;

/** This process's kernel boot and pid namespace; a value no other host can share. */
export function currentLocality(): string {
  if (cached) return cached;
  try {
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const pidNamespace = readlinkSync('/proc/self/ns/pid');
    cached = `${boot}/${pidNamespace}`;
  } catch {
    // Not Linux: no shortcut, heartbeats decide.
    cached = `unknown/${randomBytes(8).toString('hex')}`;
  }
  return cached;
}

/** True only when the process certainly no longer runs (same locality, pid gone or a zombie). */
export function isGoneLocally(pid: number, locality: string): boolean {
  if (locality !== currentLocality() || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2).charAt(0);
    return state === 'Z' || state === 'X';
  } catch {
    return true;
  }
}
