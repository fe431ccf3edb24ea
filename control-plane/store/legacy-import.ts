// The state files of control planes before the state store: `state.json`
// (projects and computes, their accounts) and `usage-events.jsonl` (when each
// compute began and stopped running). On the first start with a store, they
// are imported in one transaction and renamed to `*.imported`, so a second
// start does not import them again and nothing is deleted. A corrupt
// state.json stops the start, as it always did: starting empty would forget
// every project.
import { createHash } from 'node:crypto';
import { readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { ComputeAccounts } from '../../accounts/account.js';
import { DEFAULT_RANGE, MIN_CU_MILLI } from '../compute-size.js';
import { UNLIMITED, type ComputeRecord, type ComputeState, type ProjectRecord } from '../records.js';
import { computeParams, placeholders, projectParams, COMPUTE_COLUMNS, PROJECT_COLUMNS } from './rows.js';
import type { SqlDatabase } from './sql-database.js';

export interface LegacyImportOptions {
  dataDir: string;
  /** Where the imported computes live: the driver's placement. */
  placement: string;
}

export interface LegacyImport {
  projects: number;
  computes: number;
  events: number;
  /** Lines of usage-events.jsonl that could not be read (a cut last line is not counted). */
  skippedLines: number;
}

type LegacyCompute = Omit<ComputeRecord, 'version' | 'claim' | 'owner' | 'placement' | 'lastWakeAt' | 'sizeMilli'> & { accounts?: ComputeAccounts };

interface LegacyState {
  version: 1;
  projects: Array<Omit<ProjectRecord, 'range' | 'quota'>>;
  computes: LegacyCompute[];
}

const IMPORTED_BY = 'state.json import';

/** Imports the files under dataDir if there are any; undefined when there is nothing to import. */
export async function importLegacyState(db: SqlDatabase, opts: LegacyImportOptions): Promise<LegacyImport | undefined> {
  const statePath = join(opts.dataDir, 'state.json');
  const eventsPath = join(opts.dataDir, 'usage-events.jsonl');
  const text = await readOptional(statePath, 'control-plane state');
  if (text === undefined) return undefined;
  const state = parseState(statePath, text);
  const digest = createHash('sha256').update(text).digest('hex');
  const { events, skipped } = parseEvents((await readOptional(eventsPath, 'usage events')) ?? '');

  const result = await db.transaction(async (tx) => {
    const done = (await tx.query<{ value: string }>("SELECT value FROM meta WHERE key = 'legacy_import'")).rows[0];
    // This very file was imported, but the rename did not happen (a crash in between): only rename below.
    if (done?.value === digest) return undefined;
    const held = (await tx.query<{ n: number }>('SELECT (SELECT COUNT(*) FROM projects) + (SELECT COUNT(*) FROM computes) AS n')).rows[0]!;
    if (Number(held.n) > 0) {
      throw new Error(`${statePath} would be imported, but the state store ${db.location} already holds projects: move the file away, or start with an empty store`);
    }
    for (const p of state.projects) {
      // Older control planes had no sizes or plans: the default range, no quota.
      const params = projectParams({ ...p, range: DEFAULT_RANGE, quota: UNLIMITED });
      await tx.query(`INSERT INTO projects (${PROJECT_COLUMNS}) VALUES (${placeholders(params.length)})`, params);
    }
    for (const c of state.computes) {
      const { accounts, ...rest } = c;
      const record: ComputeRecord = { ...rest, version: 1, placement: opts.placement, sizeMilli: MIN_CU_MILLI };
      const params = computeParams(record);
      await tx.query(`INSERT INTO computes (${COMPUTE_COLUMNS}) VALUES (${placeholders(params.length)})`, params);
      if (accounts && Array.isArray(accounts.accounts) && accounts.policy) {
        await tx.query('INSERT INTO compute_accounts (compute_id, read_at, accounts) VALUES (?, ?, ?)', [c.id, accounts.readAt ?? c.updatedAt, JSON.stringify(accounts)]);
      }
    }
    for (const e of events) {
      const state: ComputeState = e.run ? 'active' : 'stopped';
      await tx.query('INSERT INTO compute_events (at, project_id, compute_id, state, run, by_instance, epoch) VALUES (?, ?, ?, ?, ?, ?, NULL)', [
        e.at,
        e.project,
        e.compute,
        state,
        e.run ? 1 : 0,
        IMPORTED_BY,
      ]);
    }
    await tx.query("INSERT INTO meta (key, value) VALUES ('legacy_import', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", [digest]);
    return { projects: state.projects.length, computes: state.computes.length, events: events.length, skippedLines: skipped };
  });

  await rename(statePath, `${statePath}.imported`);
  await rename(eventsPath, `${eventsPath}.imported`).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
  return result;
}

async function readOptional(path: string, what: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`could not read ${what} ${path}: ${(err as Error).message}`, { cause: err });
  }
}

function parseState(path: string, text: string): LegacyState {
  let parsed: Partial<LegacyState>;
  try {
    parsed = JSON.parse(text) as Partial<LegacyState>;
  } catch (err) {
    throw new Error(`control-plane state ${path} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  if (parsed.version !== 1 || !Array.isArray(parsed.projects) || !Array.isArray(parsed.computes)) {
    throw new Error(`control-plane state ${path} has an unknown layout (version ${String(parsed.version)})`);
  }
  for (const [i, p] of parsed.projects.entries()) {
    if (typeof p?.id !== 'string' || typeof p.ownerVerifier !== 'string') throw new Error(`control-plane state ${path}: project #${i + 1} has no id or verifier`);
  }
  for (const [i, c] of parsed.computes.entries()) {
    if (typeof c?.id !== 'string' || typeof c.projectId !== 'string' || typeof c.state !== 'string') {
      throw new Error(`control-plane state ${path}: compute #${i + 1} has no id, project or state`);
    }
  }
  return parsed as LegacyState;
}

interface EventLine {
  at: number;
  project: string;
  compute: string;
  run: boolean;
}

function parseEvents(text: string): { events: EventLine[]; skipped: number } {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const events: EventLine[] = [];
  let skipped = 0;
  lines.forEach((raw, i) => {
    try {
      const e = JSON.parse(raw) as Partial<EventLine>;
      if (typeof e.at === 'number' && typeof e.project === 'string' && typeof e.compute === 'string' && typeof e.run === 'boolean') {
        events.push(e as EventLine);
        return;
      }
    } catch {
      // counted below
    }
    // Only the last line can be cut short (a crash mid-append).
    if (i !== lines.length - 1) skipped++;
  });
  return { events, skipped };
}
