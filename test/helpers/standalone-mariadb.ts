// A bare mariadbd on a free loopback port in a temporary directory, for tests
// that need "any MariaDB" (the static-backend mode) without a control plane.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findFreePort } from '../../control-plane/drivers/free-port.js';
import { copyInstalledDatadir } from './datadir-template.js';

export interface StandaloneMariadb {
  host: string;
  port: number;
  user: string;
  password: string;
  stop(): Promise<void>;
}

/** `initSql` runs as root after the user is created (more users, grants, databases). */
export async function startStandaloneMariadb(
  user = 'app',
  password = 'app-secret',
  initSql = '',
  /** More mariadbd options, e.g. TLS certificates. */
  extraArgs: string[] = [],
  /** The port to listen on (default: a free one). */
  port?: number,
): Promise<StandaloneMariadb> {
  const dir = await mkdtemp(join(tmpdir(), 'wake-proxy-mariadb-'));
  const dataDir = join(dir, 'data');
  // As mariadb-install-db makes it, copied from the one installed with these options.
  await copyInstalledDatadir(['--no-defaults', '--user=root', '--auth-root-authentication-method=normal', '--skip-test-db'], dataDir);
  const init = join(dir, 'init.sql');
  await writeFile(
    init,
    `CREATE USER '${user}'@'%' IDENTIFIED BY '${password}';\nGRANT ALL ON *.* TO '${user}'@'%';\n${initSql}\n`,
  );
  port ??= await findFreePort();
  const child = spawn(
    '/usr/sbin/mariadbd',
    [
      '--no-defaults',
      '--user=root',
      `--datadir=${dataDir}`,
      `--port=${port}`,
      '--bind-address=127.0.0.1',
      `--socket=${join(dir, 'mysqld.sock')}`,
      `--tmpdir=${dir}`,
      `--init-file=${init}`,
      '--skip-log-bin',
      // As the proxy assumes of every backend: clients are known by IP (README, Authentication).
      '--skip-name-resolve',
      '--max-allowed-packet=64M',
      ...extraArgs,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  await waitReady(child, 20_000);
  return {
    host: '127.0.0.1',
    port,
    user,
    password,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** mariadbd says "ready for connections" on stderr once it accepts clients. */
function waitReady(child: ChildProcess, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let log = '';
    const timer = setTimeout(() => fail(new Error(`mariadbd not ready in ${timeoutMs} ms:\n${log}`)), timeoutMs);
    const fail = (err: Error) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(err);
    };
    child.stderr!.on('data', (chunk: Buffer) => {
      log += chunk.toString();
      if (log.includes('ready for connections')) {
        clearTimeout(timer);
        child.stderr!.resume();
        resolve();
      }
    });
    child.once('exit', (code) => fail(new Error(`mariadbd exited with ${code}:\n${log}`)));
  });
}
