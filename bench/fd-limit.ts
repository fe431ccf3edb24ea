// The open-files limit children inherit. Node cannot raise it (no setrlimit),
// and in containers without CAP_SYS_RESOURCE nobody can raise the hard limit,
// so scenarios that hold many sockets size themselves to it.
import { readFile } from 'node:fs/promises';

/** Soft RLIMIT_NOFILE of this process (Infinity when unlimited or unreadable). */
export async function fdLimit(): Promise<number> {
  try {
    const text = await readFile('/proc/self/limits', 'utf8');
    const m = /^Max open files\s+(\S+)/m.exec(text);
    if (!m || m[1] === 'unlimited') return Infinity;
    return Number(m[1]);
  } catch {
    return Infinity;
  }
}

/** Descriptors a process keeps for itself (stdio, epoll, listener, log files, IPC) besides sockets. */
export const FD_HEADROOM = 100;
