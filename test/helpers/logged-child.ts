// A command of ours in its own process, started the way an operator starts it, whose
// pino JSON lines on stdout are kept and read until one says it is ready.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../cli/main.js', import.meta.url));

export interface LoggedChild {
  child: ChildProcess;
  /** stdout lines so far (pino JSON). */
  lines: string[];
  /** Resolves when the process has exited. */
  exited: Promise<void>;
}

export interface StartOptions<T> {
  /** `proxy`, `control-plane`, ... and its flags. */
  args: string[];
  /** Options for node itself, before the script (e.g. `--import` of module hooks). */
  nodeArgs?: string[];
  env?: Record<string, string>;
  /** Its own process group (as a shell job is), so a signal to the group reaches only it and its children. */
  detached?: boolean;
  /** What it is, for messages: "proxy process", "control plane". */
  what: string;
  timeoutMs: number;
  /** The value the start waits for, read off a log record; undefined until it appears. */
  ready(rec: Record<string, unknown>): T | undefined;
}

/** Spawns `node dist/cli/main.js <args>`; resolves once a log line is ready(), rejects on exit or timeout with its stderr. */
export async function startLoggedChild<T>(o: StartOptions<T>): Promise<LoggedChild & { ready: T }> {
  const child = spawn(process.execPath, [...(o.nodeArgs ?? []), MAIN, ...o.args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...o.env },
    detached: o.detached ?? false,
  });
  const lines: string[] = [];
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4_000)));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const ready = await new Promise<T>((resolve, reject) => {
    let partial = '';
    const timer = setTimeout(() => fail(new Error(`${o.what} not ready within ${o.timeoutMs} ms`)), o.timeoutMs);
    function fail(err: Error) {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${err.message}; stderr: ${stderr.trim().slice(-800)}`));
    }
    child.once('exit', (code, sig) => fail(new Error(`${o.what} exited (${code ?? sig}) before it was ready`)));
    child.stdout!.on('data', (d: Buffer) => {
      partial += d.toString();
      const parts = partial.split('\n');
      partial = parts.pop()!;
      for (const line of parts) {
        lines.push(line);
        const value = o.ready(JSON.parse(line) as Record<string, unknown>);
        if (value !== undefined) {
          clearTimeout(timer);
          resolve(value);
        }
      }
    });
  });
  return { child, lines, exited, ready };
}

/** Sends `signal` and, when asked, waits (at most 10 s, then SIGKILL) for the exit. */
export async function signalChild(c: LoggedChild, signal: NodeJS.Signals, wait: boolean): Promise<void> {
  const { child } = c;
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill(signal);
  if (!wait) return;
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await c.exited;
  clearTimeout(timer);
}
