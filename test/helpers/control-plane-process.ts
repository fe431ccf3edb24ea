// A control plane in its own process, started the way an operator starts one
// (`node dist/cli/main.js control-plane ...`), so a test can kill it for real
// (SIGKILL) or pause it (SIGSTOP/SIGCONT). Its log lines are kept.
import { request } from 'undici';
import { signalChild, startLoggedChild } from './logged-child.js';

export interface ControlPlaneProcess {
  readonly url: string;
  readonly pid: number;
  /** Its instance id among the control planes on the store. */
  readonly instance: string;
  /** stdout lines so far (pino JSON). */
  readonly lines: string[];
  /** Whether it answers /healthz as leader now (false when it does not answer within 1 s). */
  isLeader(): Promise<boolean>;
  /** Sends the signal; for SIGKILL and SIGTERM waits (at most 10 s) for the exit. */
  signal(signal: NodeJS.Signals): Promise<void>;
}

/** Starts `wake-proxy control-plane` on a free port with the given extra flags; resolves once it serves. */
export async function startControlPlaneProcess(flags: string[]): Promise<ControlPlaneProcess> {
  const started = await startLoggedChild({
    args: ['control-plane', '--control-host', '127.0.0.1', '--control-port', '0', '--insecure-dev', 'true', ...flags],
    what: 'control plane',
    timeoutMs: 30_000,
    ready: (rec) =>
      rec.msg === 'control plane ready' && typeof rec.url === 'string' && typeof rec.instance === 'string'
        ? { url: rec.url, instance: rec.instance }
        : undefined,
  });
  const { url, instance } = started.ready;
  return {
    url,
    instance,
    pid: started.child.pid!,
    lines: started.lines,
    async isLeader() {
      try {
        const res = await request(`${url}/healthz`, { headersTimeout: 1_000, bodyTimeout: 1_000 });
        return ((await res.body.json()) as { leader?: boolean }).leader === true;
      } catch {
        return false;
      }
    },
    signal: (sig) => signalChild(started, sig, sig === 'SIGKILL' || sig === 'SIGTERM'),
  };
}
