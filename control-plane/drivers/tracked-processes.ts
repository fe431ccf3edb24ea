// The mariadbd processes the process driver knows of, one per compute, and how
// each ends. A process it started is its child and says when it exits; one it
// adopted (run.json left by a control plane that restarted, or a stray server)
// is not, so it is polled now and then. An exit nobody asked for (no stop in
// flight, the driver not closed) clears the compute's run.json and limits and
// is reported to the listeners: the lifecycle records the compute failed.
// A stop continues a frozen process first, then SIGTERM, then SIGKILL.
import type { ChildProcess } from 'node:child_process';
import type { Logger } from 'pino';
import { computePaths } from './compute-files.js';
import type { ProcessLimits } from './process-limits.js';
import { isProcessAlive, reaped, signalGroup, waitForExit } from './process-table.js';
import { removeRunFileOf } from './run-file.js';

/** A mariadbd this driver knows of; `child` is absent for one adopted after a restart. */
export interface Tracked {
  pid: number;
  child?: ChildProcess;
  stopping: boolean;
}

export interface TrackedProcessesOptions {
  dataDir: string;
  limits: ProcessLimits;
  /** How long SIGTERM may take before SIGKILL. */
  stopTimeoutMs: number;
  log?: Logger;
}

const ADOPTED_POLL_MS = 1_000;

export class TrackedProcesses {
  private readonly tracked = new Map<string, Tracked>();
  private readonly listeners: Array<(computeId: string, reason: string) => void> = [];
  private adoptedWatch: NodeJS.Timeout | undefined;
  private isClosed = false;

  constructor(private readonly o: TrackedProcessesOptions) {}

  /** Once the driver closes, exits are no longer reported and nothing new is polled. */
  get closed(): boolean {
    return this.isClosed;
  }

  onUnexpectedExit(listener: (computeId: string, reason: string) => void): void {
    this.listeners.push(listener);
  }

  track(id: string, pid: number, child?: ChildProcess): Tracked {
    const known = this.tracked.get(id);
    if (known && known.pid === pid) return known;
    const entry: Tracked = { pid, stopping: false, ...(child ? { child } : {}) };
    this.tracked.set(id, entry);
    if (child) {
      child.once('exit', (code, sig) => this.exited(id, entry, code !== null ? `code ${code}` : `signal ${sig}`));
    } else if (!this.isClosed) {
      this.adoptedWatch ??= setInterval(() => void this.checkAdopted(), ADOPTED_POLL_MS).unref();
    }
    return entry;
  }

  async stop(id: string, pid: number): Promise<void> {
    const { stopTimeoutMs, log } = this.o;
    const entry = this.track(id, pid);
    entry.stopping = true;
    try {
      // A frozen process would hold SIGTERM pending forever.
      signalGroup(pid, 'SIGCONT');
      signalGroup(pid, 'SIGTERM');
      if (!(await waitForExit(pid, stopTimeoutMs))) {
        log?.warn({ computeId: id, computePid: pid }, `mariadbd ignored SIGTERM for ${stopTimeoutMs} ms; sending SIGKILL`);
        signalGroup(pid, 'SIGKILL');
        if (!(await waitForExit(pid, 5_000))) throw new Error(`compute ${id}: mariadbd (pid ${pid}) survived SIGKILL`);
      }
      // Our own child is a zombie until Node reaps it; wait for that so its pid is really free.
      if (entry.child) await reaped(entry.child);
    } catch (err) {
      entry.stopping = false;
      throw err;
    }
    if (this.tracked.get(id) === entry) this.tracked.delete(id);
    await removeRunFileOf(computePaths(this.o.dataDir, id).runFile, pid);
    await this.o.limits.released(id);
    log?.info({ computeId: id, computePid: pid }, 'compute stopped');
  }

  /** Stops the adopted-process poll; exits from now on are the closing driver's own. */
  close(): void {
    this.isClosed = true;
    if (this.adoptedWatch) clearInterval(this.adoptedWatch);
  }

  /** Leaves the children running, but lets this process exit without waiting for them. */
  unrefAll(): void {
    for (const entry of this.tracked.values()) entry.child?.unref();
  }

  clear(): void {
    this.tracked.clear();
  }

  private exited(id: string, entry: Tracked, how: string) {
    if (this.tracked.get(id) !== entry) return;
    this.tracked.delete(id);
    if (entry.stopping || this.isClosed) return;
    void removeRunFileOf(computePaths(this.o.dataDir, id).runFile, entry.pid);
    void this.o.limits.released(id);
    const reason = `mariadbd (pid ${entry.pid}) exited unexpectedly with ${how}`;
    this.o.log?.warn({ computeId: id, computePid: entry.pid }, reason);
    for (const l of this.listeners) l(id, reason);
  }

  /** Adopted processes are not our children: no exit event, so look now and then. */
  private async checkAdopted() {
    for (const [id, entry] of this.tracked) {
      if (!entry.child && !entry.stopping && !(await isProcessAlive(entry.pid))) this.exited(id, entry, 'an unknown status');
    }
  }
}
