// The session settings transaction pooling replays instead of pinning: a client's own
// values are remembered (from the compute's session tracker) and set on whichever
// connection it borrows, before its next statement, when that connection's differ.
// The connection's own values are known the same way (read after login or a reset,
// then followed through every reply), so an equal setting costs no round trip.
//
// Values are kept as the server reports them, as latin1 strings (one character per
// byte), and written back the same way.
import type { TrackerView } from '../protocol/index.js';

/** By the names the compute's tracker reports (10.11 calls the transaction ones tx_*). */
export const REPLAYED_VARIABLES = [
  'character_set_client',
  'character_set_results',
  'character_set_connection',
  'collation_connection',
  'character_set_server',
  'collation_server',
  'time_zone',
  'sql_mode',
  'tx_isolation',
  'tx_read_only',
] as const;

const COLLATION = REPLAYED_VARIABLES.indexOf('collation_connection');
const CHARSET_CONNECTION = REPLAYED_VARIABLES.indexOf('character_set_connection');
const CHARSET_RESULTS = REPLAYED_VARIABLES.indexOf('character_set_results');
const CHARSET_SERVER = REPLAYED_VARIABLES.indexOf('character_set_server');
const COLLATION_SERVER = REPLAYED_VARIABLES.indexOf('collation_server');

/** Names a newer server reports for the same variables. */
const ALIASES: Record<string, string> = { transaction_isolation: 'tx_isolation', transaction_read_only: 'tx_read_only' };

/**
 * A collation as "whatever its charset defaults to": what setting the charset alone
 * leaves, which the tracker does not report (MariaDB 10.11: SET NAMES without COLLATE,
 * SET character_set_connection, SET character_set_server, and the restore after SET
 * STATEMENT character_set_server, name the charset only). Setting the charset restores it.
 */
export const DEFAULT_COLLATION = '';

/**
 * A collation the proxy cannot know (init_connect's SET NAMES ... COLLATE, whose text it
 * does not read): equal to no client's, so the next borrower sets its own.
 */
export const UNKNOWN_COLLATION = '\0';

/** One session's replayed settings and current database. */
export interface SessionSettings {
  /** In REPLAYED_VARIABLES order. */
  values: string[];
  database: string | null;
  /**
   * LAST_INSERT_ID() as the proxy knows it (decimal), or null while only the held
   * connection knows it (a statement that may have changed it ran there since). Not
   * replayed with the rest: only before a statement that reads or may change it.
   */
  lastInsertId: string | null;
}

/** The index of a replayed variable in `values`, or -1. */
export function replayedIndex(name: string): number {
  return (REPLAYED_VARIABLES as readonly string[]).indexOf(ALIASES[name] ?? name);
}

/**
 * The pairs where setting the charset sets the collation too, by bits of one report:
 * which charset and which collation it named. Setting a collation sets its charset as
 * well (unreported); the collation alone then says the pair's state, so a charset left
 * stale beside it is never replayed (replaySql).
 */
const REPORT_BITS = REPLAYED_VARIABLES.map((_, i) => (i === CHARSET_CONNECTION ? 1 : i === COLLATION ? 2 : i === CHARSET_SERVER ? 4 : i === COLLATION_SERVER ? 8 : 0));

/** What naming replayed variable `i` adds to a report's bits (0: it leads or follows no other). */
export function reportBit(i: number): number {
  return REPORT_BITS[i]!;
}

/**
 * After one report of `reported` bits: a charset named without its collation left the
 * collation its default, or `afterNames` for collation_connection (SET NAMES ...
 * COLLATE, which the tracker reports as the charset only).
 */
export function settleReport(values: string[], reported: number, afterNames: string = DEFAULT_COLLATION): void {
  if ((reported & 3) === 1) values[COLLATION] = afterNames;
  if ((reported & 12) === 4) values[COLLATION_SERVER] = DEFAULT_COLLATION;
}

/** After SET STATEMENT character_set_server ... FOR: its restore reset collation_server, before any report says so. */
export function collationServerUnknown(s: SessionSettings): void {
  s.values[COLLATION_SERVER] = UNKNOWN_COLLATION;
}

export function copySettings(s: SessionSettings): SessionSettings {
  return { values: s.values.slice(), database: s.database, lastInsertId: s.lastInsertId };
}

/** The select list that reads them (after DATABASE() and CURRENT_ROLE() in the pool's baseline query). */
export const SETTINGS_SELECT = REPLAYED_VARIABLES.map((v) => `@@SESSION.${v}`).join(', ');

/**
 * The trackers a login gets (before TRACKING_ON changes them): what a client that
 * negotiated CLIENT_SESSION_TRACK is told directly (protocol/tracker-view.ts).
 */
export const TRACKERS_SELECT = '@@GLOBAL.session_track_system_variables, @@GLOBAL.session_track_schema, @@GLOBAL.session_track_state_change';

/** What turns the session trackers on for a pooled connection (transaction pooling reads them). */
export const TRACKING_ON =
  "SET SESSION session_track_state_change=ON, session_track_schema=ON, session_track_system_variables='*'";

/** What turns them off again: a pinned session of a client that does not track is relayed untouched. */
export const TRACKING_OFF =
  "SET SESSION session_track_state_change=OFF, session_track_schema=OFF, session_track_system_variables=''";

/** The statement that sets a session's trackers to `view` (a pinned client's, relayed untouched from then on, that tracks). */
export function trackingSql(view: TrackerView): string {
  const list = view.variables === null ? '*' : view.variables.join(',');
  return `SET SESSION session_track_state_change=${view.stateChange ? 'ON' : 'OFF'}, session_track_schema=${view.schema ? 'ON' : 'OFF'}, session_track_system_variables='${list}'`;
}

/** The settings from a row of SETTINGS_SELECT (NULL character_set_results as the tracker reports it: ''). */
export function settingsFromRow(row: Array<string | null>, database: string | null): SessionSettings {
  // SELECT answers a boolean as 0/1; the tracker, and SET, say OFF/ON.
  const values = row.map((v, i) => (i === READ_ONLY ? (v === '1' ? 'ON' : v === '0' ? 'OFF' : (v ?? '')) : (v ?? '')));
  // LAST_INSERT_ID() is 0 after a login and after COM_RESET_CONNECTION, when this row is read.
  return { values, database, lastInsertId: '0' };
}

/** What makes a connection's LAST_INSERT_ID() `value` (a decimal the compute reported). */
export function lastInsertIdSql(value: string): string {
  if (!/^\d{1,20}$/.test(value)) throw new Error(`not a LAST_INSERT_ID() value: ${value}`);
  return `SET SESSION last_insert_id=${value}`;
}

/**
 * What reads a connection's LAST_INSERT_ID() through the trackers: setting the variable
 * to itself changes nothing, and its OK reports `last_insert_id` with the value.
 */
export const LAST_INSERT_ID_READ = 'SET SESSION last_insert_id=LAST_INSERT_ID()';

const READ_ONLY = REPLAYED_VARIABLES.indexOf('tx_read_only');

/** The settings a statement's text is read under (which tables it names, what its literals and operators mean). */
const PARSE_CONTEXT = ['character_set_client', 'character_set_connection', 'collation_connection', 'sql_mode'].map((v) =>
  (REPLAYED_VARIABLES as readonly string[]).indexOf(v),
);

/**
 * What a statement prepared now depends on besides its text: the default database and the
 * settings the server parses it under. Two sessions whose contexts differ may mean
 * different things by one text.
 */
export function parseContext(s: SessionSettings): string {
  let key = s.database ?? '';
  for (const i of PARSE_CONTEXT) key += '\0' + s.values[i]!;
  return key;
}

/**
 * One SET that makes `current` what `wanted` says, or null when they agree. Only the
 * differing variables are assigned, in an order that leaves the collation right.
 */
export function replaySql(wanted: SessionSettings, current: SessionSettings): string | null {
  const parts: string[] = [];
  const w = wanted.values;
  const c = current.values;
  for (let i = 0; i < w.length; i++) {
    if (i === COLLATION || i === CHARSET_SERVER || i === COLLATION_SERVER) continue;
    const collationOff = i === CHARSET_CONNECTION && w[COLLATION] === DEFAULT_COLLATION && c[COLLATION] !== DEFAULT_COLLATION;
    if (w[i] === c[i] && !collationOff) continue;
    parts.push(`${REPLAYED_VARIABLES[i]}=${i === CHARSET_RESULTS && w[i] === '' ? 'NULL' : quote(w[i]!)}`);
    // Assigning character_set_connection sets the collation to its default: say it again after.
    if (i === CHARSET_CONNECTION && w[COLLATION] !== DEFAULT_COLLATION) parts.push(`collation_connection=${quote(w[COLLATION]!)}`);
  }
  if (w[COLLATION] !== c[COLLATION] && w[COLLATION] !== DEFAULT_COLLATION && !parts.some((p) => p.startsWith('collation_'))) {
    parts.push(`collation_connection=${quote(w[COLLATION]!)}`);
  }
  const server = serverPart(w, c);
  if (server !== null) parts.push(server);
  return parts.length === 0 ? null : `SET SESSION ${parts.join(', ')}`;
}

/**
 * character_set_server and collation_server: the collation, when known, says both (the
 * server keeps the charset its collation's); else the charset, whose default it is.
 */
function serverPart(w: string[], c: string[]): string | null {
  const collation = w[COLLATION_SERVER]!;
  if (collation !== DEFAULT_COLLATION) return collation === c[COLLATION_SERVER] ? null : `collation_server=${quote(collation)}`;
  if (c[COLLATION_SERVER] === DEFAULT_COLLATION && c[CHARSET_SERVER] === w[CHARSET_SERVER]) return null;
  return `character_set_server=${quote(w[CHARSET_SERVER]!)}`;
}

/** After replaySql() ran: `current` is what was wanted. */
export function adoptSettings(current: SessionSettings, wanted: SessionSettings): void {
  for (let i = 0; i < wanted.values.length; i++) current.values[i] = wanted.values[i]!;
  current.database = wanted.database;
}

function quote(v: string): string {
  return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}
