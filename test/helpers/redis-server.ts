// A real redis-server for one test file: on a free loopback port (never 6379),
// no persistence, in a temporary directory. stop() and start() keep the port,
// so clients can watch it go away and come back.
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { findFreePort } from '../../control-plane/drivers/free-port.js';
import { makeTempDir, type TempDir } from './temp-dir.js';

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  /** Whether a server process is running now. */
  readonly running: boolean;
  start(): Promise<void>;
  /** SIGTERM (SIGKILL after 5 s); the data is gone, as after a real restart without persistence. */
  stop(): Promise<void>;
  restart(): Promise<void>;
  /** Stops the server and removes its directory. */
  close(): Promise<void>;
}

const REDIS_SERVER = '/usr/bin/redis-server';

export async function startRedis(): Promise<RedisServer> {
  const port = await findFreePort('127.0.0.1');
  const dir: TempDir = await makeTempDir('wake-proxy-redis-');
  let child: ChildProcess | undefined;

  async function start(): Promise<void> {
    if (child) return;
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir.path];
    const proc = spawn(REDIS_SERVER, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child = proc;
    const deadline = Date.now() + 10_000;
    while (!(await ping(port))) {
      if (proc.exitCode !== null) throw new Error(`redis-server on port ${port} exited at start: ${stderr.trim()}`);
      if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer PING within 10 s`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async function stop(): Promise<void> {
    const proc = child;
    if (!proc) return;
    child = undefined;
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }

  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get running() {
      return child !== undefined;
    },
    start,
    stop,
    async restart() {
      await stop();
      await start();
    },
    async close() {
      await stop();
      await dir.remove();
    },
  };
}

/** Whether something on the port answers PING with PONG within 500 ms. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(500, () => done(false));
    sock.once('error', () => done(false));
    sock.once('connect', () => sock.write('PING\r\n'));
    sock.once('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}
