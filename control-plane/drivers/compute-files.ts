// The files of a process-driver compute, and how they come to exist:
//
//   <dataDir>/template/                 made once by mariadb-install-db
//   <dataDir>/computes/<id>/data/       a copy of the template: the compute's datadir
//   <dataDir>/computes/<id>/owner-init.sql  creates the owner (and control account) on first start, then removed
//   <dataDir>/computes/<id>/provisioned     written last: provisioning finished
//   <dataDir>/computes/<id>/run.json    pid and port of the running mariadbd
//   <dataDir>/computes/<id>/mariadbd.err    mariadbd's stderr
//
// Copying a template is an order of magnitude faster than installing a datadir
// per compute, once the redo log is small (see INNODB_LOG_FILE_SIZE).
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, cp, mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { controlAccountSql, type ControlGrant } from '../control-account.js';

const run = promisify(execFile);
const ROTATE_LOG_BYTES = 4 * 1024 * 1024;

/**
 * The redo log is preallocated at this size and dominates the template (96 MiB
 * by default); template and server must agree or mariadbd resizes it on start.
 */
export const INNODB_LOG_FILE_SIZE = '16M';

const COMPUTE_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;
const OWNER_USER = /^[A-Za-z0-9_]{1,32}$/;
const VERIFIER = /^\*[0-9A-F]{40}$/;
/** sun_path holds 108 bytes; longer socket paths make mariadbd fail at start. */
const MAX_SOCKET_PATH = 100;

export interface ComputePaths {
  dir: string;
  data: string;
  initFile: string;
  provisioned: string;
  runFile: string;
  log: string;
  pidFile: string;
  socket: string;
}

export function computePaths(dataDir: string, computeId: string): ComputePaths {
  // The id becomes a path: refuse anything that could climb out of dataDir.
  if (!COMPUTE_ID.test(computeId)) throw new Error(`compute id '${computeId}' is not a valid compute id`);
  const dir = join(dataDir, 'computes', computeId);
  let socket = join(dir, 'mysqld.sock');
  if (socket.length > MAX_SOCKET_PATH) {
    const digest = createHash('sha256').update(dir).digest('hex').slice(0, 16);
    socket = join(tmpdir(), `wake-proxy-${digest}.sock`);
  }
  return {
    dir,
    data: join(dir, 'data'),
    initFile: join(dir, 'owner-init.sql'),
    provisioned: join(dir, 'provisioned'),
    runFile: join(dir, 'run.json'),
    log: join(dir, 'mariadbd.err'),
    pidFile: join(dir, 'mariadbd.pid'),
    socket,
  };
}

export async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Makes `<dataDir>/template` unless it exists. Installed into a temporary
 * directory and renamed, so a half-made template is never mistaken for one.
 * root keeps unix_socket authentication (the installer's default): nobody
 * reaches a compute as root over TCP, and the control plane never needs to.
 */
export async function ensureTemplate(dataDir: string, installDbPath: string, signal?: AbortSignal): Promise<string> {
  const template = join(dataDir, 'template');
  if (await exists(template)) return template;
  const staging = join(dataDir, `template.tmp-${randomBytes(4).toString('hex')}`);
  await mkdir(dataDir, { recursive: true });
  const args = [
    '--no-defaults',
    ...(process.getuid?.() === 0 ? ['--user=root'] : []),
    `--datadir=${staging}`,
    '--skip-test-db',
    `--innodb-log-file-size=${INNODB_LOG_FILE_SIZE}`,
  ];
  // Its own temporary directory: a shared /tmp being cleaned underneath it fails the bootstrap.
  const scratch = `${staging}-scratch`;
  await mkdir(scratch, { recursive: true });
  try {
    await run(installDbPath, args, { timeout: 120_000, env: { ...process.env, TMPDIR: scratch }, ...(signal ? { signal } : {}) });
    try {
      await rename(staging, template);
    } catch (err) {
      // Another control plane on this data directory made it first: theirs is as good.
      const code = (err as NodeJS.ErrnoException).code;
      if ((code !== 'ENOTEMPTY' && code !== 'EEXIST') || !(await exists(template))) throw err;
      await rm(staging, { recursive: true, force: true });
    }
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    const e = err as { stderr?: string; message: string };
    const tail = (e.stderr ?? '').trim().split('\n').slice(-3).join(' | ');
    throw new Error(`could not create the template datadir with ${installDbPath}: ${tail || e.message}`, { cause: err });
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  return template;
}

/**
 * SQL that creates the owner from its verifier (and the control plane's own
 * account, when given): no plaintext password ever reaches disk. Both drivers use it.
 */
export function ownerInitSql(user: string, verifier: string, control?: ControlGrant): string {
  // Both values end up inside SQL literals, so only strictly shaped ones pass.
  if (!OWNER_USER.test(user)) throw new Error(`owner user name '${user}' must match ${OWNER_USER}`);
  if (!VERIFIER.test(verifier)) throw new Error(`owner verifier for '${user}' is not '*' and 40 uppercase hex digits`);
  return [
    `CREATE USER IF NOT EXISTS '${user}'@'%' IDENTIFIED BY PASSWORD '${verifier}';`,
    `GRANT ALL PRIVILEGES ON *.* TO '${user}'@'%' WITH GRANT OPTION;`,
    '',
  ].join('\n') + (control ? controlAccountSql(control) : '');
}

/**
 * Copies the template into the compute's datadir and leaves the owner's init
 * file for the first start. A partly provisioned compute (no marker) is redone.
 */
export async function provisionComputeFiles(
  paths: ComputePaths,
  template: string,
  ownerUser: string,
  ownerVerifier: string,
  control?: ControlGrant,
): Promise<void> {
  if (await exists(paths.provisioned)) return;
  const sql = ownerInitSql(ownerUser, ownerVerifier, control);
  await rm(paths.dir, { recursive: true, force: true });
  await mkdir(paths.dir, { recursive: true, mode: 0o700 });
  // A reflink where the filesystem has them (btrfs, XFS): instant, and no space until written.
  await cp(template, paths.data, { recursive: true, mode: constants.COPYFILE_FICLONE });
  await writeFile(paths.initFile, sql, { mode: 0o600 });
  await writeFile(paths.provisioned, new Date().toISOString() + '\n');
}

/** mariadbd.err kept from growing without end: one older file beside it. */
export async function rotateLog(path: string): Promise<void> {
  const size = await stat(path).then((s) => s.size, () => 0);
  if (size > ROTATE_LOG_BYTES) await rename(path, `${path}.1`);
}

/** The ids of the computes provisioned (or being provisioned) under dataDir. */
export async function listComputes(dataDir: string): Promise<string[]> {
  const entries = await readdir(`${dataDir}/computes`, { withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isDirectory()).map((e) => e.name);
}
