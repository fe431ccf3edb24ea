// A control plane in its own process, started the way an operator starts one
// (`node dist/cli/main.js control-plane ...`), so a test can kill it for real
// (SIGKILL) or pause it (SIGSTOP/SIGCONT). Its log lines are kept.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';

const MAIN = fileURLToPath(new URL('../../cli/main.js', import.meta.url));

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
  const args = [MAIN, 'control-plane', '--control-host', '127.0.0.1', '--control-port', '0', '--insecure-dev', 'true', ...flags];
  const child: ChildProcess = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4_000)));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const ready = await new Promise<{ url: string; instance: string }>((resolve, reject) => {
    let partial = '';
    const timer = setTimeout(() => fail(new Error('control plane did not serve within 30 s')), 30_000);
    function fail(err: Error) {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${err.message}; stderr: ${stderr.trim().slice(-800)}`));
    }
    child.once('exit', (code, sig) => fail(new Error(`control plane exited (${code ?? sig}) before serving`)));
    child.stdout!.on('data', (d: Buffer) => {
      partial += d.toString();
      const parts = partial.split('\n');
      partial = parts.pop()!;
      for (const line of parts) {
        lines.push(line);
        const rec = JSON.parse(line) as { msg?: string; url?: string; instance?: string };
        if (rec.msg === 'control plane ready' && rec.url && rec.instance) {
          clearTimeout(timer);
          resolve({ url: rec.url, instance: rec.instance });
        }
      }
    });
  });
  return {
    ...ready,
    pid: child.pid!,
    lines,
    async isLeader() {
      try {
        const res = await request(`${ready.url}/healthz`, { headersTimeout: 1_000, bodyTimeout: 1_000 });
        return ((await res.body.json()) as { leader?: boolean }).leader === true;
      } catch {
        return false;
      }
    },
    async signal(sig) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(sig);
      if (sig !== 'SIGKILL' && sig !== 'SIGTERM') return;
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
