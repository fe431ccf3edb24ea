// Compute seconds per project, from the compute state machine's transitions.
// A compute counts while its process runs: starting, active, stopping. Frozen
// (SIGSTOP: no CPU, memory kept), stopped and failed do not count.
//
// Only the edges are kept, as JSON lines appended to
// `<dataDir>/usage-events.jsonl`: {"at":<ms>,"project":..,"compute":..,"run":true|false}.
// After a control-plane restart the reconcile's transitions close or continue
// whatever was open; a compute that stopped while the control plane was down
// is counted until the restart (the true end is unknown; erring high is the
// honest bound).
import { appendFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { ComputeState } from './records.js';

export interface ComputeEvent {
  computeId: string;
  projectId: string;
  state: ComputeState | 'deleted';
  at: number;
}

interface Period {
  computeId: string;
  start: number;
  end?: number;
}

interface Line {
  at: number;
  project: string;
  compute: string;
  run: boolean;
}

const RUNNING: ReadonlySet<string> = new Set(['starting', 'active', 'stopping']);

export class UsageLedger {
  /** project -> its compute-running periods in order; an open one has no end. */
  private readonly periods = new Map<string, Period[]>();
  /** compute -> its open period. */
  private readonly open = new Map<string, Period>();
  private appending: Promise<void> = Promise.resolve();

  private constructor(
    readonly path: string,
    private readonly logger: Logger,
  ) {}

  static async open(dataDir: string, logger: Logger): Promise<UsageLedger> {
    const ledger = new UsageLedger(join(dataDir, 'usage-events.jsonl'), logger);
    let text = '';
    try {
      text = await readFile(ledger.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new Error(`could not read usage events ${ledger.path}: ${(err as Error).message}`, { cause: err });
      }
    }
    const lines = text.split('\n').filter((l) => l.trim() !== '');
    lines.forEach((raw, i) => {
      let line: Line;
      try {
        line = JSON.parse(raw) as Line;
      } catch {
        // Only the last line can be cut short (a crash mid-append); anything else is worth a word.
        if (i !== lines.length - 1) logger.warn({ path: ledger.path, line: i + 1 }, 'skipping an unreadable usage event');
        return;
      }
      ledger.apply(line);
    });
    return ledger;
  }

  /** Takes every transition; only a change between running and not running is written. */
  record(e: ComputeEvent): void {
    const run = RUNNING.has(e.state);
    if (run === this.open.has(e.computeId)) return;
    const line: Line = { at: e.at, project: e.projectId, compute: e.computeId, run };
    this.apply(line);
    this.appending = this.appending
      .then(() => appendFile(this.path, JSON.stringify(line) + '\n', { mode: 0o600 }))
      .catch((err: unknown) => this.logger.error({ err, path: this.path }, 'could not record a usage event'));
  }

  /** Closes periods of computes that no longer exist (deleted before this ledger saw it). */
  closeMissing(existing: ReadonlySet<string>, projectOf: (computeId: string) => string | undefined, at: number): void {
    for (const id of [...this.open.keys()]) {
      if (!existing.has(id)) this.record({ computeId: id, projectId: projectOf(id) ?? this.projectOfOpen(id), state: 'deleted', at });
    }
  }

  /** Seconds the project's computes ran within [fromMs, toMs); a running one counts up to now. */
  computeSeconds(projectId: string, fromMs: number, toMs: number, now = Date.now()): number {
    let ms = 0;
    for (const p of this.periods.get(projectId) ?? []) {
      const end = Math.min(p.end ?? now, toMs);
      const start = Math.max(p.start, fromMs);
      if (end > start) ms += end - start;
    }
    return ms / 1000;
  }

  /** Resolves once every event recorded so far is on disk (or its failure logged). */
  flushed(): Promise<void> {
    return this.appending;
  }

  private apply(line: Line): void {
    if (line.run) {
      if (this.open.has(line.compute)) return;
      const period: Period = { computeId: line.compute, start: line.at };
      this.open.set(line.compute, period);
      let list = this.periods.get(line.project);
      if (!list) this.periods.set(line.project, (list = []));
      list.push(period);
    } else {
      const period = this.open.get(line.compute);
      if (!period) return;
      period.end = line.at;
      this.open.delete(line.compute);
    }
  }

  private projectOfOpen(computeId: string): string {
    for (const [project, list] of this.periods) if (list.some((p) => p.computeId === computeId && p.end === undefined)) return project;
    return '';
  }
}
