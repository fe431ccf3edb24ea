// The state store's bookkeeping tables: compute events (the usage ledger and
// audit), control-plane instances and their heartbeats. Every failure names
// the store and what was being done; none carries a row's secret fields.
import { RUNNING_STATES, type ComputeState } from '../records.js';
import { FencedError, type ChangeContext, type ComputeEvent, type InstanceInfo, type InstanceRow } from './state-store.js';
import type { SqlDatabase, SqlTx } from './sql-database.js';
import { eventOf, instanceOf, type EventRow, type InstanceTableRow } from './rows.js';

const EVENT_COLUMNS = 'seq, at, project_id, compute_id, state, run, by_instance, epoch, cu_milli';

export abstract class StoreRecords {
  constructor(protected readonly db: SqlDatabase) {}

  get location(): string {
    return this.db.location;
  }

  projectEvents(projectId: string, beforeMs: number): Promise<ComputeEvent[]> {
    return this.read(`read usage events of project '${projectId}'`, async () =>
      (await this.db.query<EventRow>(`SELECT ${EVENT_COLUMNS} FROM compute_events WHERE project_id = ? AND at < ? ORDER BY seq`, [projectId, beforeMs])).rows.map(
        eventOf,
      ),
    );
  }

  usageEvents(beforeMs: number): Promise<ComputeEvent[]> {
    return this.read('read usage events', async () =>
      (await this.db.query<EventRow>(`SELECT ${EVENT_COLUMNS} FROM compute_events WHERE at < ? ORDER BY seq`, [beforeMs])).rows.map(eventOf),
    );
  }

  openRunningPeriods(): Promise<ComputeEvent[]> {
    return this.read('read open usage periods', async () =>
      (
        await this.db.query<EventRow>(
          `SELECT ${EVENT_COLUMNS} FROM compute_events
           WHERE seq IN (SELECT MAX(seq) FROM compute_events GROUP BY compute_id) AND run = 1 ORDER BY seq`,
        )
      ).rows.map(eventOf),
    );
  }

  async closeRunningPeriod(open: ComputeEvent, state: ComputeState | 'deleted', ctx: ChangeContext): Promise<void> {
    await this.read(`close the usage period of compute ${open.computeId}`, () =>
      this.db.transaction(async (tx) => {
        // Only if nothing was recorded for the compute since it was read.
        const later = await tx.query('SELECT 1 FROM compute_events WHERE compute_id = ? AND seq > ?', [open.computeId, open.seq]);
        if (later.count === 0) await this.insertEvent(tx, open.projectId, open.computeId, state, open.cuMilli, ctx);
      }),
    );
  }

  async registerInstance(i: InstanceInfo): Promise<void> {
    await this.read(`register control plane ${i.id}`, () =>
      this.db.query(
        `INSERT INTO instances (id, host, pid, locality, placement, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?, ${this.db.nowMs})
         ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at`,
        [i.id, i.host, i.pid, i.locality, i.placement, i.startedAt],
      ),
    );
  }

  heartbeat(id: string): Promise<boolean> {
    return this.read(`heartbeat of control plane ${id}`, async () => (await this.db.query(`UPDATE instances SET heartbeat_at = ${this.db.nowMs} WHERE id = ?`, [id])).count > 0);
  }

  listInstances(): Promise<InstanceRow[]> {
    return this.read('list control planes', async () =>
      (
        await this.db.query<InstanceTableRow>(
          `SELECT id, host, pid, locality, placement, started_at, ${this.db.nowMs} - heartbeat_at AS silent_ms FROM instances ORDER BY started_at`,
        )
      ).rows.map(instanceOf),
    );
  }

  async removeInstance(id: string): Promise<void> {
    await this.read(`remove control plane ${id}`, () => this.db.query('DELETE FROM instances WHERE id = ?', [id]));
  }

  protected async insertEvent(
    tx: SqlTx,
    projectId: string,
    computeId: string,
    state: ComputeState | 'deleted',
    cuMilli: number,
    ctx: ChangeContext,
  ): Promise<void> {
    const run = state !== 'deleted' && RUNNING_STATES.has(state) ? 1 : 0;
    await tx.query(`INSERT INTO compute_events (at, project_id, compute_id, state, run, by_instance, epoch, cu_milli) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, [
      ctx.at,
      projectId,
      computeId,
      state,
      run,
      ctx.by,
      ctx.fence?.epoch ?? ctx.epoch ?? null,
      cuMilli,
    ]);
  }

  /** Runs fn; a failure gets the store's location and what was being done (a fence stays a FencedError). */
  protected async read<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof FencedError) throw err;
      throw new Error(`control-plane state ${this.db.location}: could not ${what}: ${(err as Error).message}`, { cause: err });
    }
  }
}
