// The state store on a SQL database (SQLite or PostgreSQL, sql-database.ts):
// projects and computes, their compare-and-set changes with the event each
// transition writes, accounts. Instances, events and leadership are in
// sql-store-records.ts. The rules are state-store.ts's.
import type { ComputeAccounts } from '../../accounts/account.js';
import type { ComputeRecord, ComputeState, ProjectRecord } from '../records.js';
import { advisoryLock } from './advisory-lock.js';
import { leaseRowLock } from './leader-lock.js';
import { importLegacyState, type LegacyImport, type LegacyImportOptions } from './legacy-import.js';
import { migrate } from './schema.js';
import { openSqlDatabase, type SqlTx, type SqlValue } from './sql-database.js';
import { StoreRecords } from './sql-store-records.js';
import {
  COMPUTE_COLUMNS,
  computeOf,
  computeParams,
  placeholders,
  PROJECT_COLUMNS,
  projectOf,
  projectParams,
  type ComputeRow,
  type ProjectRow,
} from './rows.js';
import { FencedError, type ChangeContext, type ComputeChange, type LeaderFence, type ProjectChange, type StateStore } from './state-store.js';

/** The NOTIFY channel every compute change is announced on (PostgreSQL). */
const CHANGES = 'wake_proxy_computes';

export interface OpenStateStoreOptions {
  /** A SQLite file path (created 0600) or a postgres:// URL. */
  location: string;
  /** How this control plane's connections are named on the server (PostgreSQL). */
  applicationName?: string;
  /** Imports the state files of older control planes from this data directory, once. */
  legacy?: LegacyImportOptions;
}

export interface OpenedStateStore {
  store: StateStore;
  schema: { from: number; to: number };
  imported?: LegacyImport;
}

/** Opens the store, creating or migrating its tables, and imports older state files if any. */
export async function openStateStore(opts: OpenStateStoreOptions): Promise<OpenedStateStore> {
  const db = await openSqlDatabase(opts.location, opts.applicationName ?? 'wake-proxy control plane');
  try {
    const schema = await migrate(db);
    const imported = opts.legacy ? await importLegacyState(db, opts.legacy) : undefined;
    const store = new SqlStateStore(db);
    await db.listen(CHANGES, (id) => store.announce(id));
    return { store, schema, ...(imported ? { imported } : {}) };
  } catch (err) {
    await db.close().catch(() => {});
    throw err;
  }
}

class SqlStateStore extends StoreRecords implements StateStore {
  private readonly listeners = new Set<(computeId: string) => void>();


  get kind() {
    return this.db.dialect;
  }

  listProjects(): Promise<ProjectRecord[]> {
    return this.read('list projects', async () => (await this.db.query<ProjectRow>(`SELECT ${PROJECT_COLUMNS} FROM projects ORDER BY created_at, id`)).rows.map(projectOf));
  }

  getProject(id: string): Promise<ProjectRecord | undefined> {
    return this.read(`read project '${id}'`, async () => {
      const row = (await this.db.query<ProjectRow>(`SELECT ${PROJECT_COLUMNS} FROM projects WHERE id = ?`, [id])).rows[0];
      return row ? projectOf(row) : undefined;
    });
  }

  createProject(project: ProjectRecord, compute: ComputeRecord): Promise<boolean> {
    return this.write(`create project '${project.id}'`, compute.id, async (tx) => {
      const params = projectParams(project);
      const inserted = await tx.query(`INSERT INTO projects (${PROJECT_COLUMNS}) VALUES (${placeholders(params.length)}) ON CONFLICT (id) DO NOTHING`, params);
      if (inserted.count === 0) return false;
      await this.insertCompute(tx, compute);
      return true;
    });
  }

  addCompute(projectId: string, compute: ComputeRecord, computeSeq: number): Promise<boolean> {
    return this.write(`add compute ${compute.id} to project '${projectId}'`, compute.id, async (tx) => {
      const linked = await tx.query('UPDATE projects SET compute_id = ?, compute_seq = ? WHERE id = ? AND compute_id IS NULL', [compute.id, computeSeq, projectId]);
      if (linked.count === 0) return false;
      await this.insertCompute(tx, compute);
      return true;
    });
  }

  async removeProject(id: string): Promise<void> {
    await this.write(`remove project '${id}'`, undefined, (tx) => tx.query('DELETE FROM projects WHERE id = ?', [id]));
  }

  updateProject(id: string, change: ProjectChange): Promise<ProjectRecord | undefined> {
    return this.write(`change project '${id}'`, undefined, async (tx) => {
      const sets: string[] = [];
      const params: SqlValue[] = [];
      if (change.range) {
        sets.push('min_cu_milli = ?', 'max_cu_milli = ?');
        params.push(change.range.minMilli, change.range.maxMilli);
      }
      if (change.quota) {
        sets.push('quota_cu_ms = ?', 'quota_storage_bytes = ?');
        params.push(change.quota.cuMsPerMonth, change.quota.storageBytes);
      }
      const sql = sets.length
        ? `UPDATE projects SET ${sets.join(', ')} WHERE id = ? RETURNING ${PROJECT_COLUMNS}`
        : `SELECT ${PROJECT_COLUMNS} FROM projects WHERE id = ?`;
      const row = (await tx.query<ProjectRow>(sql, [...params, id])).rows[0];
      return row ? projectOf(row) : undefined;
    });
  }

  listComputes(): Promise<ComputeRecord[]> {
    return this.read('list computes', async () => (await this.db.query<ComputeRow>(`SELECT ${COMPUTE_COLUMNS} FROM computes ORDER BY created_at, id`)).rows.map(computeOf));
  }

  getCompute(id: string): Promise<ComputeRecord | undefined> {
    return this.read(`read compute ${id}`, async () => {
      const row = (await this.db.query<ComputeRow>(`SELECT ${COMPUTE_COLUMNS} FROM computes WHERE id = ?`, [id])).rows[0];
      return row ? computeOf(row) : undefined;
    });
  }

  changeCompute(id: string, version: number, change: ComputeChange, ctx: ChangeContext): Promise<ComputeRecord | undefined> {
    return this.write(`change compute ${id}`, id, async (tx) => {
      if (ctx.fence) await this.checkFence(tx, ctx.fence);
      const before = (await tx.query<ComputeRow>(`SELECT ${COMPUTE_COLUMNS} FROM computes WHERE id = ?${this.db.forUpdate}`, [id])).rows[0];
      if (!before || before.version !== version) return undefined;
      const { sets, params } = assignments(before, change, ctx);
      const after = (await tx.query<ComputeRow>(`UPDATE computes SET ${sets.join(', ')} WHERE id = ? RETURNING ${COMPUTE_COLUMNS}`, [...params, id])).rows[0]!;
      const entered = change.state !== undefined && change.state !== before.state;
      const resized = after.size_milli !== before.size_milli;
      if (entered || resized) await this.insertEvent(tx, after.project_id, id, after.state as ComputeState, after.size_milli, ctx);
      return computeOf(after);
    });
  }

  wakeIfActive(id: string, at: number): Promise<ComputeRecord | undefined> {
    return this.read(`record a wake of compute ${id}`, async () => {
      const row = (
        await this.db.query<ComputeRow>(
          `UPDATE computes SET last_wake_at = ?, version = version + 1 WHERE id = ? AND state = 'active' AND op IS NULL RETURNING ${COMPUTE_COLUMNS}`,
          [at, id],
        )
      ).rows[0];
      return row ? computeOf(row) : undefined;
    });
  }

  removeCompute(id: string, version: number, ctx: ChangeContext): Promise<boolean> {
    return this.write(`remove compute ${id}`, id, async (tx) => {
      if (ctx.fence) await this.checkFence(tx, ctx.fence);
      const row = (await tx.query<{ project_id: string; version: number; size_milli: number }>(
        `SELECT project_id, version, size_milli FROM computes WHERE id = ?${this.db.forUpdate}`,
        [id],
      )).rows[0];
      if (!row || row.version !== version) return false;
      await tx.query('DELETE FROM compute_accounts WHERE compute_id = ?', [id]);
      await tx.query('DELETE FROM computes WHERE id = ?', [id]);
      await tx.query('UPDATE projects SET compute_id = NULL WHERE compute_id = ?', [id]);
      await this.insertEvent(tx, row.project_id, id, 'deleted', row.size_milli, ctx);
      return true;
    });
  }

  onComputeChange(listener: (computeId: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  getAccounts(computeId: string): Promise<ComputeAccounts | undefined> {
    return this.read(`read accounts of compute ${computeId}`, async () => {
      const row = (await this.db.query<{ accounts: string }>('SELECT accounts FROM compute_accounts WHERE compute_id = ?', [computeId])).rows[0];
      if (!row) return undefined;
      const parsed = JSON.parse(row.accounts) as Partial<ComputeAccounts>;
      return Array.isArray(parsed.accounts) && parsed.policy && typeof parsed.readAt === 'string' ? (parsed as ComputeAccounts) : undefined;
    });
  }

  async saveAccounts(computeId: string, accounts: ComputeAccounts): Promise<void> {
    await this.read(`save accounts of compute ${computeId}`, () =>
      this.db.query(
        `INSERT INTO compute_accounts (compute_id, read_at, accounts) SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM computes WHERE id = ?)
         ON CONFLICT (compute_id) DO UPDATE SET read_at = excluded.read_at, accounts = excluded.accounts`,
        [computeId, accounts.readAt, JSON.stringify(accounts), computeId],
      ),
    );
  }

  getComputeGreeting(): Promise<string | undefined> {
    return this.read('read the compute greeting', async () => {
      const row = (await this.db.query<{ value: string }>("SELECT value FROM meta WHERE key = 'compute_greeting'")).rows[0];
      return row?.value;
    });
  }

  async saveComputeGreeting(json: string): Promise<void> {
    await this.read('save the compute greeting', () =>
      this.db.query("INSERT INTO meta (key, value) VALUES ('compute_greeting', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", [json]),
    );
  }

  leaderLock(name: string, holder: string, leaseMs: number) {
    return this.db.dialect === 'postgres' ? advisoryLock(this.db, name, holder, leaseMs) : leaseRowLock(this.db, name, holder, leaseMs);
  }

  close(): Promise<void> {
    this.listeners.clear();
    return this.db.close();
  }

  /** A transaction with the error's context; a compute it changed is announced after the commit. */
  private async write<T>(what: string, computeId: string | undefined, fn: (tx: SqlTx) => Promise<T>): Promise<T> {
    const result = await this.read(what, () =>
      this.db.transaction(async (tx) => {
        const value = await fn(tx);
        if (computeId !== undefined && value !== undefined && value !== false) await tx.notify(CHANGES, computeId);
        return value;
      }),
    );
    if (computeId !== undefined && result !== undefined && result !== false) this.announce(computeId);
    return result;
  }

  /** Tells the listeners a compute changed (here, or in another control plane: NOTIFY). */
  announce(computeId: string): void {
    for (const l of this.listeners) l(computeId);
  }

  private async insertCompute(tx: SqlTx, c: ComputeRecord): Promise<void> {
    const params = computeParams(c);
    await tx.query(`INSERT INTO computes (${COMPUTE_COLUMNS}) VALUES (${placeholders(params.length)})`, params);
  }

  private async checkFence(tx: SqlTx, fence: LeaderFence): Promise<void> {
    // A shared lock on the row: a new leader's epoch bump waits for this transaction, or this one sees it.
    const row = (await tx.query<{ epoch: number }>(`SELECT epoch FROM leadership WHERE name = ?${this.db.forShare}`, [fence.name])).rows[0];
    if (row?.epoch !== fence.epoch) throw new FencedError(fence, row?.epoch);
  }
}

/** The SET clause of a change: the version always moves; updated_at with any transition. */
function assignments(before: ComputeRow, change: ComputeChange, ctx: ChangeContext): { sets: string[]; params: SqlValue[] } {
  const sets = ['version = version + 1'];
  const params: SqlValue[] = [];
  const set = (column: string, value: SqlValue) => {
    sets.push(`${column} = ?`);
    params.push(value);
  };
  if (change.state !== undefined) {
    set('state', change.state);
    set('updated_at', new Date(ctx.at).toISOString());
  }
  if (change.claim === null) {
    sets.push('op = NULL', 'op_holder = NULL', 'op_since = NULL');
  } else if (change.claim) {
    set('op', change.claim.op);
    set('op_holder', change.claim.holder);
    // A claim taken over keeps its age: how long the operation has been in flight.
    set('op_since', before.op === change.claim.op && before.op_since !== null ? before.op_since : ctx.at);
  }
  if (change.endpoint === null) sets.push('endpoint_host = NULL', 'endpoint_port = NULL');
  else if (change.endpoint) {
    set('endpoint_host', change.endpoint.host);
    set('endpoint_port', change.endpoint.port);
  }
  if (change.lastError !== undefined) set('last_error', change.lastError);
  if (change.resumed) sets.push('resume_count = resume_count + 1');
  if (change.owner !== undefined) set('owner', change.owner);
  if (change.placement !== undefined) set('placement', change.placement);
  if (change.wokenAt !== undefined) set('last_wake_at', change.wokenAt);
  if (change.sizeMilli !== undefined) set('size_milli', change.sizeMilli);
  return { sets, params };
}
