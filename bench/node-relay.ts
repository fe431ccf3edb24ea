// A bare Node relay: accept, connect to the backend, pipe() both ways, nothing
// else. It is what any proxy written in Node pays for its sockets alone, so the
// proxy's figures read against it show what the proxy adds on top of Node,
// and HAProxy's show what Node itself costs. Runs in its own process (forked
// by startNodeRelay) so its CPU time is measured like the other contenders'.
//
// argv: <listen port> <backend host> <backend port>
import { connect, createServer } from 'node:net';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { findFreePort } from '../control-plane/drivers/free-port.js';
import { onCleanup } from './cleanup.js';
import { forkGroup, stopGroup, waitForPort } from './processes.js';

export interface RunningRelay {
  port: number;
  pid: number;
  stop(): Promise<void>;
}

const SELF = fileURLToPath(import.meta.url);

export async function startNodeRelay(backend: { host: string; port: number }): Promise<RunningRelay> {
  const port = await findFreePort();
  const child: ChildProcess = forkGroup(SELF, [String(port), backend.host, String(backend.port)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const stop = onCleanup(`node relay (pid ${child.pid})`, () => stopGroup(child, 2_000));
  try {
    await waitForPort('127.0.0.1', port, 10_000, child);
  } catch (err) {
    await stop();
    throw new Error(`node relay did not start: ${(err as Error).message}`);
  }
  return { port, pid: child.pid!, stop };
}

function serve(port: number, host: string, backendPort: number): void {
  const server = createServer({ noDelay: true }, (client) => {
    const backend = connect({ host, port: backendPort, noDelay: true });
    client.pipe(backend).pipe(client);
    const close = () => {
      client.destroy();
      backend.destroy();
    };
    client.on('error', close).on('close', close);
    backend.on('error', close).on('close', close);
  });
  server.listen(port, '127.0.0.1');
  process.on('disconnect', () => process.exit(0));
}

if (process.argv[1] === SELF) serve(Number(process.argv[2]), process.argv[3]!, Number(process.argv[4]));
