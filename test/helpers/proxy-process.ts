// A proxy in its own process, started the way an operator starts one
// (`node dist/cli/main.js proxy ...`), so a test can kill it for real.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../cli/main.js', import.meta.url));

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
  const args = [...(opts.nodeArgs ?? []), MAIN, 'proxy', '--host', '127.0.0.1', '--port', '0', '--admin-host', '127.0.0.1', '--admin-port', '0', ...flags];
  const child: ChildProcess = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...opts.env } });
  const lines: string[] = [];
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const port = await new Promise<number>((resolve, reject) => {
    let partial = '';
    const timer = setTimeout(() => fail(new Error('proxy process did not listen within 10 s')), 10_000);
    function fail(err: Error) {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${err.message}; stderr: ${stderr.trim().slice(-500)}`));
    }
    child.once('exit', (code, sig) => fail(new Error(`proxy process exited (${code ?? sig}) before listening`)));
    child.stdout!.on('data', (d: Buffer) => {
      partial += d.toString();
      const parts = partial.split('\n');
      partial = parts.pop()!;
      for (const line of parts) {
        lines.push(line);
        const rec = JSON.parse(line) as { msg?: string; port?: number };
        if (rec.msg === 'proxy listening' && rec.port) {
          clearTimeout(timer);
          resolve(rec.port);
        }
      }
    });
  });
  return {
    port,
    pid: child.pid!,
    lines,
    async kill(signal) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
