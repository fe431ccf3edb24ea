// Load-generator processes: several child processes (not threads in the
// runner) so that generating load neither shares an event loop with the runner
// nor is limited to one core. Messages are plain objects with a `type`; every
// wait for one is bounded.
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { onCleanup } from '../cleanup.js';
import { forkGroup, stopGroup } from '../processes.js';

export interface WorkerMessage {
  type: string;
  [key: string]: unknown;
}

/** What a worker that holds clients is told to open: `count` logins, `inFlight` at a time. */
export interface OpenClients {
  type: 'open';
  host: string;
  port: number;
  user: string;
  password: string;
  count: number;
  inFlight: number;
}

export interface Worker {
  send(m: WorkerMessage): void;
  /** The next message of this type; rejects on timeout, a 'failed' message or an early exit. */
  next<T extends WorkerMessage>(type: string, timeoutMs: number): Promise<T>;
}

export interface WorkerGroup {
  workers: Worker[];
  stop(): Promise<void>;
}

/** Forks `count` copies of a script under bench/workers/ and waits until each says 'ready'. */
export async function startWorkers(script: string, count: number, readyTimeoutMs = 30_000): Promise<WorkerGroup> {
  const path = fileURLToPath(new URL(`./${script}`, import.meta.url));
  const children: ChildProcess[] = [];
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    await Promise.all(stops.map((s) => s()));
  };
  try {
    for (let i = 0; i < count; i++) {
      const child = forkGroup(path, [String(i)]);
      children.push(child);
      stops.push(onCleanup(`${script} #${i} (pid ${child.pid})`, () => stopGroup(child, 3_000)));
    }
    const workers = children.map(wrap);
    await Promise.all(workers.map((w) => w.next('ready', readyTimeoutMs)));
    return { workers, stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

function wrap(child: ChildProcess): Worker {
  const inbox: WorkerMessage[] = [];
  let notify: (() => void) | null = null;
  let exited = false;
  child.on('message', (m: WorkerMessage) => {
    inbox.push(m);
    notify?.();
  });
  child.once('exit', () => {
    exited = true;
    notify?.();
  });
  return {
    send(m) {
      if (child.connected) child.send(m);
    },
    async next<T extends WorkerMessage>(type: string, timeoutMs: number): Promise<T> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const i = inbox.findIndex((m) => m.type === type || m.type === 'failed');
        if (i >= 0) {
          const m = inbox.splice(i, 1)[0]!;
          if (m.type === 'failed') throw new Error(`worker pid ${child.pid}: ${String(m.message)}`);
          return m as T;
        }
        if (exited) throw new Error(`worker pid ${child.pid} exited (${child.exitCode}) while waiting for '${type}'`);
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`worker pid ${child.pid}: no '${type}' within ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          notify = () => {
            clearTimeout(timer);
            notify = null;
            resolve();
          };
        });
      }
    },
  };
}

/** Splits n items over k workers as evenly as possible (first ones get the extra). */
export function split(n: number, k: number): number[] {
  return Array.from({ length: k }, (_, i) => Math.floor(n / k) + (i < n % k ? 1 : 0));
}

/** Worker side: report failures as a message the parent can read, then exit. */
export function reportFailure(err: unknown): void {
  process.send?.({ type: 'failed', message: (err as Error)?.message ?? String(err) }, () => process.exit(1));
}
