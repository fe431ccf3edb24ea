// A proxy in its own process, started the way an operator starts one
// (`node dist/cli/main.js proxy ...`), so a test can kill it for real.
import { signalChild, startLoggedChild } from './logged-child.js';

export interface ProxyProcess {
  readonly port: number;
  readonly pid: number;
  /** stdout lines so far (pino JSON). */
  readonly lines: string[];
  /** Sends the signal and waits (at most 10 s) for the exit. */
  kill(signal: NodeJS.Signals): Promise<void>;
}

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
    kill: (signal) => signalChild(started, signal, true),
  };
}
