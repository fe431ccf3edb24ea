// A mariadbd that a control plane spawned and then died before it saw the
// server ready (SIGKILL, a crash): nothing recorded its port, but the process
// runs on and holds the datadir. Another control plane on the same host finds
// it by its command line, waits for it to serve, and adopts it, so the compute
// is started once, not twice: when it adopts what another left, and as well
// when it is simply asked to start a compute that no run.json says is running.
import { readdir, readFile, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import type { Logger } from 'pino';
import type { ComputePaths } from './compute-files.js';
import { cmdlineIncludes, isProcessAlive, signalGroup, waitForExit } from './process-table.js';
import { writeRunFile } from './run-file.js';

export interface StrayServer {
  pid: number;
  port: number;
}

const POLL_MS = 20;
const GREETING_WAIT_MS = 1_000;

/** The mariadbd whose command line has `--datadir=<datadir>`, if one runs; scans /proc. */
export async function findServerOf(datadir: string): Promise<StrayServer | undefined> {
  const wanted = `--datadir=${datadir}`;
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    const args = (await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')).split('\0');
    if (!args.includes(wanted)) continue;
    const port = Number(args.find((a) => a.startsWith('--port='))?.slice('--port='.length));
    const pid = Number(entry);
    if (Number.isInteger(port) && port > 0 && (await isProcessAlive(pid))) return { pid, port };
  }
  return undefined;
}

/**
 * Waits until the server sends its greeting on host:port; false if the process
 * exits or the signal aborts first. A greeting comes only once the server is
 * ready for connections.
 */
export async function waitUntilServing(host: string, server: StrayServer, signal: AbortSignal): Promise<boolean> {
  while (!signal.aborted) {
    if (!(await isProcessAlive(server.pid))) return false;
    if (await greets(host, server.port)) return true;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  return false;
}

function greets(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(GREETING_WAIT_MS, () => done(false));
    sock.once('error', () => done(false));
    // The first packet of any MySQL-protocol server is its greeting (or an error packet when it refuses).
    sock.once('data', (d: Buffer) => done(d.length >= 5 && d[4] !== 0xff));
  });
}

/**
 * The mariadbd on the compute's datadir that no run.json records, once it
 * serves: then recorded, for this control plane and the next. Undefined when
 * none runs, it exits before it serves, or the signal aborts the wait.
 */
export async function recordStrayServer(p: ComputePaths, host: string, signal: AbortSignal, log?: Logger): Promise<StrayServer | undefined> {
  const stray = await findServerOf(p.data);
  if (!stray) return undefined;
  log?.info({ computePid: stray.pid, port: stray.port }, 'found a start left half done; waiting for it to serve');
  if (!(await waitUntilServing(host, stray, signal))) return undefined;
  await writeRunFile(p.runFile, { pid: stray.pid, port: stray.port, datadir: p.data, startedAt: new Date().toISOString() });
  // The owner exists now; the init file must not recreate it if it is dropped later.
  await rm(p.initFile, { force: true });
  log?.info({ computePid: stray.pid, port: stray.port }, 'compute adopted');
  return stray;
}

/**
 * A mariadbd left from a start the control plane never saw finish (it died in
 * between) still holds the datadir's locks, and nobody knows its port: end it.
 */
export async function killStrayServer(p: ComputePaths): Promise<void> {
  const pid = Number.parseInt(await readFile(p.pidFile, 'utf8').catch(() => ''), 10);
  if (!Number.isInteger(pid) || pid <= 0) return;
  if ((await isProcessAlive(pid)) && (await cmdlineIncludes(pid, `--datadir=${p.data}`))) {
    signalGroup(pid, 'SIGCONT');
    signalGroup(pid, 'SIGKILL');
    await waitForExit(pid, 5_000);
  }
}
