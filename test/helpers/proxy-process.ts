// A proxy in its own process, started the way an operator starts one
// (`node dist/cli/main.js proxy ...`), so a test can kill it for real.
import { signalChild, startLoggedChild } from './logged-child.js';

export interface ProxyProcess {
  readonly port: number;
  readonly pid: number;
  /** stdout lines so far (pino JSON). */
  readonly lines: string[];
  /**
   * The log records `match` picks, once there are at least `count` of them (at most
   * 5 s): lines at info leave the process in batches, up to 100 ms after they are logged.
   */
  records(match: (rec: LogRecord) => boolean, count: number): Promise<LogRecord[]>;
  /** Every line logged until now, once the batch they may wait in has left (for checks that a thing is absent). */
  settledLines(): Promise<string[]>;
  /** Sends the signal and waits (at most 10 s) for the exit. */
  kill(signal: NodeJS.Signals): Promise<void>;
}

export type LogRecord = { msg: string } & Record<string, unknown>;

export interface ProxyProcessOptions {
  /** Options for node itself, before the script (e.g. `--import` of module hooks). */
  nodeArgs?: string[];
  /** More environment variables for the process. */
  env?: Record<string, string>;
}

/** Starts `wake-proxy proxy` on free ports with the given extra flags; resolves once it listens. */
export async function startProxyProcess(flags: string[], opts: ProxyProcessOptions = {}): Promise<ProxyProcess> {
  const started = await startLoggedChild({
    args: ['proxy', '--host', '127.0.0.1', '--port', '0', '--admin-host', '127.0.0.1', '--admin-port', '0', ...flags],
    ...(opts.nodeArgs ? { nodeArgs: opts.nodeArgs } : {}),
    ...(opts.env ? { env: opts.env } : {}),
    what: 'proxy process',
    timeoutMs: 10_000,
    ready: (rec) => (rec.msg === 'proxy listening' && typeof rec.port === 'number' && rec.port > 0 ? rec.port : undefined),
  });
  return {
    port: started.ready,
    pid: started.child.pid!,
    lines: started.lines,
    records: async (match, count) => {
      const until = performance.now() + 5_000;
      for (;;) {
        const found = started.lines.map((l) => JSON.parse(l) as LogRecord).filter(match);
        if (found.length >= count || performance.now() > until) return found;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    settledLines: async () => {
      await new Promise((resolve) => setTimeout(resolve, 250));
      return started.lines;
    },
    kill: (signal) => signalChild(started, signal, true),
  };
}
