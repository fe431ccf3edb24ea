// The state's tables, created and migrated by the control plane itself at
// start. The version lives in `meta.schema_version`; each migration moves it up
// by one, inside one transaction with its DDL, so a start that dies midway
// leaves the previous version whole. Several control planes starting at once
// on PostgreSQL take turns on an advisory lock; a state written by a newer
// control plane is refused rather than misread.
//
// Column types are the ones both dialects share (TEXT, INTEGER, BIGINT); times
// are Unix milliseconds (BIGINT) except the ISO strings the API shows; JSON is
// kept as TEXT.
import type { SqlDatabase, SqlDialect } from './sql-database.js';

interface Migration {
  version: number;
  what: string;
  statements(dialect: SqlDialect): string[];
}

/** Any fixed number: the advisory lock key of "migrating the control-plane schema". */
const MIGRATION_LOCK_KEY = 7_761_000_001;

const MIGRATIONS: Migration[] = [
  {
    version: 1,
    what: 'projects, computes with their claims, accounts, transitions, instances, leadership',
    statements: (dialect) => [
      `CREATE TABLE projects (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        created_at TEXT NOT NULL,
        owner_user TEXT NOT NULL,
        owner_verifier TEXT NOT NULL,
        compute_id TEXT,
        compute_seq INTEGER NOT NULL
      )`,
      // version: bumped by every change, the compare-and-set token of each transition.
      // op/op_holder/op_since: the operation in flight and the control plane running it.
      // owner: the control plane that watches the running compute; placement: where it lives.
      `CREATE TABLE computes (
        id TEXT PRIMARY KEY,
        project_id TEXT NOT NULL,
        state TEXT NOT NULL,
        version BIGINT NOT NULL,
        endpoint_host TEXT,
        endpoint_port INTEGER,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        last_error TEXT,
        resume_count INTEGER NOT NULL,
        last_wake_at BIGINT,
        op TEXT,
        op_holder TEXT,
        op_since BIGINT,
        owner TEXT,
        placement TEXT,
        control_user TEXT,
        control_password TEXT
      )`,
      'CREATE INDEX computes_project ON computes (project_id)',
      `CREATE TABLE compute_accounts (
        compute_id TEXT PRIMARY KEY REFERENCES computes (id) ON DELETE CASCADE,
        read_at TEXT NOT NULL,
        accounts TEXT NOT NULL
      )`,
      // Every state a compute entered, written in the transaction that made the change:
      // the usage ledger (run = 1 while its process runs) and the audit of who did what.
      `CREATE TABLE compute_events (
        seq ${dialect === 'postgres' ? 'BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY' : 'INTEGER PRIMARY KEY AUTOINCREMENT'},
        at BIGINT NOT NULL,
        project_id TEXT NOT NULL,
        compute_id TEXT NOT NULL,
        state TEXT NOT NULL,
        run INTEGER NOT NULL,
        by_instance TEXT NOT NULL,
        epoch BIGINT
      )`,
      'CREATE INDEX compute_events_project ON compute_events (project_id, at)',
      `CREATE TABLE instances (
        id TEXT PRIMARY KEY,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        locality TEXT NOT NULL,
        placement TEXT NOT NULL,
        started_at BIGINT NOT NULL,
        heartbeat_at BIGINT NOT NULL
      )`,
      // epoch: the fencing token, bumped by every change of holder.
      `CREATE TABLE leadership (
        name TEXT PRIMARY KEY,
        holder TEXT,
        epoch BIGINT NOT NULL,
        expires_at BIGINT NOT NULL
      )`,
    ],
  },
  {
    version: 2,
    what: 'compute sizes: a range per project, a size per compute and per event; quotas per project',
    statements: () => [
      // Sizes in milli-CU (250 = 0.25 CU). Projects made before sizes get the default range.
      'ALTER TABLE projects ADD COLUMN min_cu_milli INTEGER NOT NULL DEFAULT 250',
      'ALTER TABLE projects ADD COLUMN max_cu_milli INTEGER NOT NULL DEFAULT 1000',
      // Quotas: NULL is unlimited. CU-milliseconds per calendar month (UTC); storage in bytes.
      'ALTER TABLE projects ADD COLUMN quota_cu_ms BIGINT',
      'ALTER TABLE projects ADD COLUMN quota_storage_bytes BIGINT',
      'ALTER TABLE computes ADD COLUMN size_milli INTEGER NOT NULL DEFAULT 250',
      // The size in effect from this event on (CU-seconds); NULL for events written before sizes: they count as 0.25 CU.
      'ALTER TABLE compute_events ADD COLUMN cu_milli INTEGER',
    ],
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** Brings the schema to SCHEMA_VERSION; answers the version it found. */
export async function migrate(db: SqlDatabase): Promise<{ from: number; to: number }> {
  try {
    return await db.transaction(async (tx) => {
      if (db.dialect === 'postgres') await tx.query('SELECT pg_advisory_xact_lock(?::bigint)', [MIGRATION_LOCK_KEY]);
      await tx.query('CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
      const row = (await tx.query<{ value: string }>("SELECT value FROM meta WHERE key = 'schema_version'")).rows[0];
      const from = row ? Number(row.value) : 0;
      if (!Number.isInteger(from) || from < 0) throw new Error(`meta.schema_version is '${row?.value}', not a version number`);
      if (from > SCHEMA_VERSION) {
        throw new Error(`its schema is version ${from}, newer than this control plane's ${SCHEMA_VERSION}: run a newer control plane`);
      }
      for (const m of MIGRATIONS.filter((x) => x.version > from)) {
        for (const sql of m.statements(db.dialect)) await tx.query(sql);
      }
      await tx.query(
        "INSERT INTO meta (key, value) VALUES ('schema_version', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [String(SCHEMA_VERSION)],
      );
      return { from, to: SCHEMA_VERSION };
    });
  } catch (err) {
    throw new Error(`control-plane state ${db.location}: could not create or migrate its tables: ${(err as Error).message}`, { cause: err });
  }
}
