// Starting one mariadbd and knowing when it serves. mariadbd writes
// "ready for connections." to stderr once its listener is open; that line, not
// a timer, decides readiness. Its stderr goes to a log file rather than a pipe:
// a pipe would break (or fill and block mariadbd) once the control plane that
// read it restarts, while the compute is meant to outlive it. The file also
// keeps the server's log for later diagnosis.
import { spawn, type ChildProcess } from 'node:child_process';
import { watch } from 'node:fs';
import { open } from 'node:fs/promises';
import { signalGroup, waitForExit } from './process-table.js';

const READY_LINE = 'ready for connections';
/** Re-read the log this often even if the file watcher stays quiet (it should not). */
const FALLBACK_POLL_MS = 100;

export interface LaunchOptions {
  computeId: string;
  mariadbdPath: string;
  args: string[];
  logPath: string;
  timeoutMs: number;
  signal: AbortSignal;
  /** cgroup.procs files the process is written to before mariadbd runs, so it starts inside its groups. */
  cgroupProcs?: string[];
}

export class LaunchError extends Error {
  override readonly name = 'LaunchError';
  constructor(
    message: string,
    /** The port was taken between choosing it and mariadbd binding it: worth one more try. */
    readonly addressInUse = false,
  ) {
    super(message);
  }
}

/**
 * Spawns mariadbd in its own process group (so a Ctrl-C meant for the control
 * plane's terminal never reaches it) and resolves once it is ready. On early
 * exit, timeout or abort it rejects with the compute id and the log lines that
 * explain why, and leaves no process behind.
 */
export async function launchMariadbd(o: LaunchOptions): Promise<ChildProcess> {
  if (o.signal.aborted) throw new LaunchError(`compute ${o.computeId}: start aborted before mariadbd was spawned`);
  const log = await open(o.logPath, 'a', 0o600);
  let ready: Promise<ChildProcess>;
  try {
    const offset = (await log.stat()).size;
    // The fd is duplicated into the child during spawn, so ours can be closed right after.
    const [command, args] = inGroups(o.mariadbdPath, o.args, o.cgroupProcs ?? []);
    const child = spawn(command, args, { detached: true, stdio: ['ignore', log.fd, log.fd] });
    // Listen before the next await: a failed spawn reports 'error' on the next tick.
    ready = waitUntilReady(o, child, offset);
  } finally {
    await log.close();
  }
  return ready;
}

/**
 * With groups to enter, a shell writes its own pid into each and then becomes
 * mariadbd (exec keeps the pid): the server never runs outside its limits.
 */
function inGroups(command: string, args: string[], procs: string[]): [string, string[]] {
  if (procs.length === 0) return [command, args];
  const script = 'n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1" || exit 70; shift; n=$((n - 1)); done; exec "$@"';
  return ['/bin/sh', ['-c', script, 'mariadbd-in-cgroup', String(procs.length), ...procs, command, ...args]];
}

function waitUntilReady(o: LaunchOptions, child: ChildProcess, offset: number): Promise<ChildProcess> {
  return new Promise<ChildProcess>((resolve, reject) => {
    let settled = false;
    let checking = false;
    let recheck = false;

    const watcher = watch(o.logPath, () => void check());
    watcher.on('error', () => {}); // the fallback poll still runs
    const poll = setInterval(() => void check(), FALLBACK_POLL_MS);
    const timer = setTimeout(() => void fail(`mariadbd did not report ready within ${o.timeoutMs} ms`, true), o.timeoutMs);
    const onAbort = () => void fail('start aborted', true);
    o.signal.addEventListener('abort', onAbort, { once: true });
    child.once('error', (err) => void fail(`could not run ${o.mariadbdPath}: ${err.message}`, false));
    child.once('exit', (code, sig) => void fail(`mariadbd exited (${code ?? sig}) before it was ready`, false));
    void check();

    function cleanup() {
      settled = true;
      watcher.close();
      clearInterval(poll);
      clearTimeout(timer);
      o.signal.removeEventListener('abort', onAbort);
    }

    async function check() {
      if (settled) return;
      if (checking) {
        recheck = true;
        return;
      }
      checking = true;
      try {
        const text = await readLogSince(o.logPath, offset);
        if (!settled && text.includes(READY_LINE)) {
          cleanup();
          resolve(child);
        }
      } finally {
        checking = false;
        if (recheck && !settled) {
          recheck = false;
          void check();
        }
      }
    }

    async function fail(reason: string, kill: boolean) {
      if (settled) return;
      cleanup();
      if (kill && child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
        signalGroup(child.pid, 'SIGCONT');
        signalGroup(child.pid, 'SIGKILL');
        await waitForExit(child.pid, 5_000);
      }
      const text = await readLogSince(o.logPath, offset).catch(() => '');
      const lines = meaningfulLines(text);
      const detail = lines.length ? `: ${lines.join(' | ')}` : '';
      reject(new LaunchError(`compute ${o.computeId}: ${reason}${detail}`, ADDRESS_IN_USE.test(text)));
    }
  });
}

const ADDRESS_IN_USE = /Address already in use|Bind on TCP\/IP port/;

async function readLogSince(path: string, offset: number): Promise<string> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    if (size <= offset) return '';
    const buf = Buffer.alloc(size - offset);
    const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
    return buf.subarray(0, bytesRead).toString('utf8');
  } finally {
    await fh.close();
  }
}

const NOISE = [/\[Note\]/, /max_open_files/, /\[ERROR\] Aborting/, /^Version: /];
const TIMESTAMP = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \d+ /;
const CONTROL_CHARS = /[\x00-\x08\x0b-\x1f\x7f]/g;

/** The last few log lines that say what went wrong, without notes and timestamps. */
export function meaningfulLines(log: string, max = 3): string[] {
  const lines = log
    .split('\n')
    // mariadbd rings the terminal bell (BEL) before some errors; keep messages printable.
    .map((l) => l.replace(CONTROL_CHARS, '').trim().replace(TIMESTAMP, ''))
    .filter((l) => l.length > 0);
  const telling = lines.filter((l) => !NOISE.some((re) => re.test(l)));
  return (telling.length ? telling : lines).slice(-max);
}
