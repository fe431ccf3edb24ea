// The bench's own MariaDB servers outside any control plane: the "bare start"
// that cold wakes are compared against and the idle scenario's backend. They
// are made exactly as the process driver makes a compute (the same template,
// init SQL and readiness check, reused from control-plane/drivers), so a bare
// start and a compute resume differ only in what the control plane and proxy
// add.
import { randomBytes } from 'node:crypto';
import { cp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureTemplate, INNODB_LOG_FILE_SIZE, ownerInitSql } from '../control-plane/drivers/compute-files.js';
import { findFreePort } from '../control-plane/drivers/free-port.js';
import { launchMariadbd } from '../control-plane/drivers/mariadbd-launch.js';
import { signalGroup, waitForExit } from '../control-plane/drivers/process-table.js';
import { formatNativeVerifier, nativePasswordVerifier } from '../protocol/index.js';
import { trackGroup, untrackGroup } from './cleanup.js';

export const MARIADBD = '/usr/sbin/mariadbd';
export const INSTALL_DB = 'mariadb-install-db';
export const BENCH_DATABASE = 'sbtest';

export interface Credentials {
  user: string;
  password: string;
}

export interface Datadir {
  name: string;
  dir: string;
  data: string;
  initFile: string;
  creds: Credentials;
}

export interface RunningMariadb {
  host: string;
  port: number;
  pid: number;
  /** performance.now() when mariadbd was spawned and when it reported ready. */
  spawnedAt: number;
  readyAt: number;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Run the init SQL (user and database): only on the first start, as the driver does. */
  init: boolean;
  extraArgs?: string[];
  timeoutMs?: number;
}

/** A fresh datadir copied from the shared template, with a bench user and database to create. */
export async function prepareDatadir(workDir: string, name: string): Promise<Datadir> {
  const template = await ensureTemplate(workDir, INSTALL_DB);
  const dir = join(workDir, name);
  const data = join(dir, 'data');
  await cp(template, data, { recursive: true });
  const creds = { user: 'bench', password: randomBytes(12).toString('hex') };
  const initFile = join(dir, 'init.sql');
  const verifier = formatNativeVerifier(nativePasswordVerifier(creds.password));
  // mariadbd runs an init file one statement per line.
  await writeFile(initFile, ownerInitSql(creds.user, verifier) + `CREATE DATABASE IF NOT EXISTS ${BENCH_DATABASE};\n`, {
    mode: 0o600,
  });
  return { name, dir, data, initFile, creds };
}

export async function startMariadb(dd: Datadir, opts: StartOptions): Promise<RunningMariadb> {
  const port = await findFreePort();
  const args = [
    '--no-defaults',
    ...(process.getuid?.() === 0 ? ['--user=root'] : []),
    `--datadir=${dd.data}`,
    `--port=${port}`,
    '--bind-address=127.0.0.1',
    `--socket=${join(dd.dir, 'mysqld.sock')}`,
    `--pid-file=${join(dd.dir, 'mariadbd.pid')}`,
    `--tmpdir=${dd.dir}`,
    '--skip-log-bin',
    `--innodb-log-file-size=${INNODB_LOG_FILE_SIZE}`,
    // The same server options the process driver gives a compute (serverArgs in control-plane/drivers/mariadbd-args.ts).
    '--skip-name-resolve',
    '--max-allowed-packet=64M',
    ...(opts.init ? [`--init-file=${dd.initFile}`] : []),
    ...(opts.extraArgs ?? []),
  ];
  const spawnedAt = performance.now();
  const child = await launchMariadbd({
    computeId: `bench-${dd.name}`,
    mariadbdPath: MARIADBD,
    args,
    logPath: join(dd.dir, 'mariadbd.err'),
    timeoutMs: opts.timeoutMs ?? 60_000,
    signal: AbortSignal.timeout((opts.timeoutMs ?? 60_000) + 5_000),
  });
  const readyAt = performance.now();
  const pid = child.pid!;
  trackGroup(pid);
  return {
    host: '127.0.0.1',
    port,
    pid,
    spawnedAt,
    readyAt,
    async stop() {
      if (signalGroup(pid, 'SIGTERM') && !(await waitForExit(pid, 30_000))) {
        signalGroup(pid, 'SIGKILL');
        await waitForExit(pid, 5_000);
      }
      untrackGroup(pid);
    },
  };
}
