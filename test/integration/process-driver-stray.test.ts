// A mariadbd a control plane spawned and then died with, before it recorded
// the start (run.json): the compute's claim may come back to "stopped" or
// "failed" (the survivor was not steady, or its takeover failed), and the next
// wake is an ordinary resume on another control plane. That resume must find
// the server already on the data directory and use it: never kill it to start
// again, and never start a second mariadbd beside it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { computePaths, type ComputePaths } from '../../control-plane/drivers/compute-files.js';
import { findFreePort } from '../../control-plane/drivers/free-port.js';
import { launchMariadbd } from '../../control-plane/drivers/mariadbd-launch.js';
import { serverArgs } from '../../control-plane/drivers/mariadbd-args.js';
import { createProcessDriver } from '../../control-plane/drivers/process-driver.js';
import type { ComputeDriver } from '../../control-plane/drivers/driver.js';
import { formatNativeVerifier, nativePasswordVerifier } from '../../protocol/auth/native-password.js';
import { kernelState, queryCompute } from '../helpers/control-plane-compute.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';

const HOST = '127.0.0.1';
const MARIADBD = '/usr/sbin/mariadbd';
const PASSWORD = 'stray-owner-pw';

let dir: TempDir;
const drivers: ComputeDriver[] = [];
/** Servers this file spawned itself: stopped at the end even if no driver adopted them. */
const strays: number[] = [];

before(async () => {
  dir = await makeTempDir('wake-proxy-stray-');
});

after(async () => {
  for (const d of drivers) await d.close();
  await createProcessDriver({ dataDir: dir.path }).close({ stopComputes: true });
  for (const pid of strays) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
    for (const deadline = Date.now() + 5_000; Date.now() < deadline && ![undefined, 'Z'].includes(await kernelState(pid)); ) {
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  await dir.remove();
});

/** A control plane's driver on the shared data directory. */
function controlPlane() {
  const d = createProcessDriver({ dataDir: dir.path, cgroups: 'off' });
  drivers.push(d);
  return d;
}

async function provisioned(id: string) {
  await controlPlane().provision({ computeId: id, projectId: id, ownerUser: 'owner', ownerVerifier: formatNativeVerifier(nativePasswordVerifier(PASSWORD)) });
  return computePaths(dir.path, id);
}

/** The pids of every process whose command line names this data directory. */
async function serversOn(datadir: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const args = (await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')).split('\0');
    if (args.includes(`--datadir=${datadir}`)) pids.push(Number(entry));
  }
  return pids;
}

/** mariadbd spawned a moment ago by a control plane that died at once: not serving yet, maybe no pid file yet. */
async function justSpawned(p: ComputePaths): Promise<{ pid: number; port: number }> {
  const port = await findFreePort(HOST);
  const child = spawn(MARIADBD, serverArgs(p, HOST, port, true, []), { detached: true, stdio: 'ignore' });
  child.unref();
  strays.push(child.pid!);
  return { pid: child.pid!, port };
}

async function startsIn(log: string): Promise<number> {
  return ((await readFile(log, 'utf8')).match(/\] Starting MariaDB .* as process \d+/g) ?? []).length;
}

test('a resume adopts a server a dead control plane started and never recorded', async () => {
  const p = await provisioned('served');
  // What the dead control plane got done: mariadbd spawned and serving, run.json never written.
  const port = await findFreePort(HOST);
  const stray = await launchMariadbd({
    computeId: 'served',
    mariadbdPath: MARIADBD,
    args: serverArgs(p, HOST, port, true, []),
    logPath: p.log,
    timeoutMs: 60_000,
    signal: new AbortController().signal,
  });
  stray.unref();
  strays.push(stray.pid!);

  const endpoint = await controlPlane().resume('served', AbortSignal.timeout(60_000));
  assert.equal(endpoint.port, port, 'the server already running is the one answered');
  assert.deepEqual(await serversOn(p.data), [stray.pid], 'no second mariadbd on the data directory, and the first one lives');
  assert.equal(await startsIn(p.log), 1, 'mariadbd started once');
  const rows = await queryCompute({ host: HOST, port, user: 'owner', password: PASSWORD }, 'SELECT 1 AS one');
  assert.equal(rows[0].one, 1);
  assert.equal(JSON.parse(await readFile(p.runFile, 'utf8')).pid, stray.pid, 'recorded now, for the next control plane');
});

test('a resume waits for a server still starting on the data directory instead of starting another beside it', async () => {
  const p = await provisioned('starting');
  const stray = await justSpawned(p);

  const endpoint = await controlPlane().resume('starting', AbortSignal.timeout(60_000));
  assert.equal(endpoint.port, stray.port);
  assert.deepEqual(await serversOn(p.data), [stray.pid], 'exactly one mariadbd on the data directory');
  const rows = await queryCompute({ host: HOST, port: stray.port, user: 'owner', password: PASSWORD }, 'SELECT 1 AS one');
  assert.equal(rows[0].one, 1);
});

test('a resume whose wait for such a server is cancelled leaves it running and starts nothing', async () => {
  const p = await provisioned('cancelled');
  const stray = await justSpawned(p);

  await assert.rejects(controlPlane().resume('cancelled', AbortSignal.abort()));
  assert.deepEqual(await serversOn(p.data), [stray.pid], 'the server found is neither killed nor doubled');
});
