// HAProxy in plain TCP mode in front of the same backend: the reference for
// what a byte-shuffling proxy costs. One thread (nbthread 1), like the
// single-threaded Node proxy it is compared with; on a 2-core machine that
// also runs the load generator and mariadbd this is HAProxy's faster setting
// too (its default of one thread per core measured about 0.6x of it at 8
// client threads here), so the comparison does not flatter the proxy.
import { closeSync, openSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { findFreePort } from '../control-plane/drivers/free-port.js';
import { onCleanup } from './cleanup.js';
import { findExecutable, spawnGroup, stopGroup, waitForPort } from './processes.js';

export interface RunningHaproxy {
  port: number;
  pid: number;
  stop(): Promise<void>;
}

export function findHaproxy(): Promise<string | undefined> {
  return findExecutable('haproxy', ['/usr/sbin/haproxy']);
}

/**
 * maxconn is kept well under the fd limit: HAProxy refuses to start when it
 * cannot reserve two descriptors per connection.
 */
export async function startHaproxy(
  binary: string,
  backend: { host: string; port: number },
  workDir: string,
  logPath: string,
  maxconn = 2_000,
): Promise<RunningHaproxy> {
  const port = await findFreePort();
  const config = join(workDir, `haproxy-${port}.cfg`);
  await writeFile(
    config,
    [
      'global',
      `  maxconn ${maxconn}`,
      '  nbthread 1',
      'defaults',
      '  mode tcp',
      '  timeout connect 5s',
      '  timeout client 1h',
      '  timeout server 1h',
      'frontend bench',
      `  bind 127.0.0.1:${port}`,
      '  default_backend mariadb',
      'backend mariadb',
      `  server db ${backend.host}:${backend.port}`,
      '',
    ].join('\n'),
  );
  const log = openSync(logPath, 'a');
  // -db: stay in the foreground, so stopping the child stops HAProxy.
  const child = spawnGroup(binary, ['-f', config, '-db'], { stdio: ['ignore', log, log] });
  closeSync(log);
  const stop = onCleanup(`haproxy (pid ${child.pid})`, () => stopGroup(child));
  try {
    await waitForPort('127.0.0.1', port, 10_000, child);
  } catch (err) {
    await stop();
    throw new Error(`haproxy did not start (see ${logPath}): ${(err as Error).message}`);
  }
  return { port, pid: child.pid!, stop };
}
