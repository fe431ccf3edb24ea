// A real PostgreSQL for one test file, from Debian's `postgresql` package: a
// fresh cluster (initdb) in a temporary directory, the server on a free
// loopback port, no durability (fsync off: the tests need speed, not crash
// safety). PostgreSQL refuses to run as root, so when the tests do, the
// directory is handed to `nobody` and both programs run as that user.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chown, readdir } from 'node:fs/promises';
import { promisify } from 'node:util';
import pg from 'pg';
import { findFreePort } from '../../control-plane/drivers/free-port.js';
import { makeTempDir, type TempDir } from './temp-dir.js';

const run = promisify(execFile);
const UNPRIVILEGED = { uid: 65534, gid: 65534 }; // nobody:nogroup on Debian

export interface PostgresServer {
  readonly port: number;
  /** postgres://postgres@127.0.0.1:<port>/postgres */
  readonly url: string;
  /** A new empty database; answers its URL. */
  createDatabase(name: string): Promise<string>;
  /** Stops the server and removes its directory. */
  close(): Promise<void>;
}

/** The newest installed PostgreSQL's bin directory. */
async function binDir(): Promise<string> {
  const versions = (await readdir('/usr/lib/postgresql').catch(() => [] as string[])).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
  if (!versions[0]) throw new Error('PostgreSQL is not installed (/usr/lib/postgresql/<version>/bin): apt-get install postgresql');
  return `/usr/lib/postgresql/${versions[0]}/bin`;
}

/** Runs as nobody when we are root (setpriv execs, so the pid is the program's own). */
function asServerUser(cmd: string, args: string[]): [string, string[]] {
  if (process.getuid?.() !== 0) return [cmd, args];
  return ['setpriv', [`--reuid=${UNPRIVILEGED.uid}`, `--regid=${UNPRIVILEGED.gid}`, '--clear-groups', '--', cmd, ...args]];
}

export async function startPostgres(): Promise<PostgresServer> {
  const bin = await binDir();
  const dir: TempDir = await makeTempDir('wake-proxy-pg-');
  if (process.getuid?.() === 0) await chown(dir.path, UNPRIVILEGED.uid, UNPRIVILEGED.gid);
  const data = `${dir.path}/data`;
  const [initCmd, initArgs] = asServerUser(`${bin}/initdb`, ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  try {
    await run(initCmd, initArgs, { timeout: 60_000 });
  } catch (err) {
    await dir.remove();
    throw new Error(`initdb failed: ${(err as { stderr?: string }).stderr ?? (err as Error).message}`, { cause: err });
  }
  const port = await findFreePort('127.0.0.1');
  const options = ['-D', data, '-p', String(port), '-h', '127.0.0.1', '-k', dir.path];
  for (const setting of ['fsync=off', 'synchronous_commit=off', 'full_page_writes=off', 'max_connections=200', 'shared_buffers=32MB']) options.push('-c', setting);
  const [cmd, args] = asServerUser(`${bin}/postgres`, options);
  const child: ChildProcess = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4_000)));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;

  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) {
      await dir.remove();
      throw new Error(`postgres exited at start: ${stderr.trim()}`);
    }
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      await client.end();
      break;
    } catch {
      await client.end().catch(() => {});
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        await dir.remove();
        throw new Error(`postgres on port ${port} did not accept connections within 20 s: ${stderr.trim()}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  return {
    port,
    url,
    async createDatabase(name) {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${name}`);
      } finally {
        await client.end();
      }
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    },
    async close() {
      if (child.exitCode === null && child.signalCode === null) {
        // SIGINT: fast shutdown (sessions are ended, no waiting for clients).
        child.kill('SIGINT');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      await dir.remove();
    },
  };
}
