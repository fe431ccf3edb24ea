// MariaDB data directories installed once and copied after: mariadb-install-db takes
// one to two seconds of both cores, a copy a tenth of that, and the suite starts a
// mariadbd or a control plane in nearly every file. The installed directories live
// under the OS temp dir, keyed by the installer's options and the binaries, so every
// test process (and every later run) shares them. A template is only read once made,
// and it is made in a staging directory renamed into place, so processes that race
// each install one and all but the first throw theirs away.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { cp, mkdir, mkdtemp, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { INNODB_LOG_FILE_SIZE, ensureTemplate, exists } from '../../control-plane/drivers/compute-files.js';

const run = promisify(execFile);
const INSTALL_DB = '/usr/bin/mariadb-install-db';
const MARIADBD = '/usr/sbin/mariadbd';
/** One per user: another user's would not be writable (and its files not readable by mariadbd as this one). */
const ROOT = join(tmpdir(), `wake-proxy-test-templates-${process.getuid?.() ?? 'any'}`);

/** Made (or found) once per process: later calls wait on the same promise. */
const made = new Map<string, Promise<string>>();

/** A new server or installer makes other files: the key changes with them. */
async function keyOf(what: unknown): Promise<string> {
  const bins = await Promise.all([MARIADBD, INSTALL_DB].map(async (p) => {
    const s = await stat(p);
    return [p, s.size, s.mtimeMs];
  }));
  return createHash('sha256').update(JSON.stringify({ what, bins })).digest('hex').slice(0, 16);
}

function once(key: string, make: () => Promise<string>): Promise<string> {
  let p = made.get(key);
  if (!p) {
    p = make().catch((err) => {
      made.delete(key);
      throw err;
    });
    made.set(key, p);
  }
  return p;
}

/**
 * Fills `<dataDir>/template` with the template the process driver would install
 * there itself (its own ensureTemplate, run once into the shared place), so a
 * control plane on dataDir copies computes from it without installing.
 */
export async function seedComputeTemplate(dataDir: string): Promise<void> {
  const key = await keyOf({ computeTemplate: INNODB_LOG_FILE_SIZE });
  const template = await once(key, async () => {
    await mkdir(ROOT, { recursive: true });
    return ensureTemplate(join(ROOT, key), INSTALL_DB);
  });
  await copy(template, join(dataDir, 'template'));
}

/** Copies to `dest` a data directory as `mariadb-install-db <args> --datadir=...` makes it. */
export async function copyInstalledDatadir(args: string[], dest: string): Promise<void> {
  const key = await keyOf({ installArgs: args });
  const template = await once(key, async () => {
    const final = join(ROOT, key, 'data');
    if (await exists(final)) return final;
    await mkdir(join(ROOT, key), { recursive: true });
    const staging = await mkdtemp(join(ROOT, `${key}.tmp-`));
    try {
      // Its own temporary directory: a shared /tmp being cleaned underneath it fails the bootstrap.
      await run(INSTALL_DB, [...args, `--datadir=${join(staging, 'data')}`], { timeout: 120_000, env: { ...process.env, TMPDIR: staging } });
      await rename(join(staging, 'data'), final).catch(async (err: NodeJS.ErrnoException) => {
        // Another process made it first: theirs is as good.
        if ((err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') || !(await exists(final))) throw err;
      });
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
    return final;
  });
  await copy(template, dest);
}

function copy(from: string, to: string): Promise<void> {
  // A reflink where the filesystem has them; a plain copy elsewhere.
  return cp(from, to, { recursive: true, mode: constants.COPYFILE_FICLONE });
}
