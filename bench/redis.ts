// A redis-server of the bench's own, for proxies that run several workers: they
// share KILL, failed-password counts and activity through Redis, as proxies of one
// deployment do. Started on first use, on a free loopback port, with nothing kept
// on disk; stopped with everything else the bench started.
import { findFreePort } from '../control-plane/drivers/free-port.js';
import { onCleanup } from './cleanup.js';
import { spawnGroup, stopGroup, waitForPort } from './processes.js';

export async function startRedis(): Promise<{ url: string }> {
  const port = await findFreePort();
  const child = spawnGroup('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  onCleanup(`redis-server (pid ${child.pid})`, () => stopGroup(child, 2_000));
  await waitForPort('127.0.0.1', port, 10_000, child);
  return { url: `redis://127.0.0.1:${port}` };
}
