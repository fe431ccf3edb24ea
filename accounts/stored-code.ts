// Which of a compute's stored code can leave session state behind that transaction
// pooling would not see. MariaDB 10.11's session trackers report nothing when a stored
// function, a trigger or a view takes a named lock (GET_LOCK) or advances a sequence
// (NEXTVAL, SETVAL, NEXT VALUE FOR: LASTVAL then reads it per session), and the
// client's statement (`SELECT f()`, an INSERT that fires a trigger, `SELECT * FROM v`)
// names no such thing. So the proxy is told the names a statement must not mention
// without pinning its connection: the functions, packages, views and tables (with
// such a trigger or column default) whose text uses a hazard word, or mentions
// another such name (a procedure's included).
//
// Names are matched by mention, case-insensitively, without their schema: a false
// match costs a little pooling, a missed one hands a lock to another client.
//
// The compute's stored code is read through a procedure the control plane installs
// in each compute it provisions (SQL SECURITY DEFINER, as root: reading triggers and
// view definitions would otherwise need the TRIGGER privilege, which can make them).

/** What a compute's stored code says, as last read; `names` null: it could not be read (then every session pins). */
export interface StoredCode {
  /** When it was read (ISO 8601), by the reader's clock. */
  readAt: string;
  /** Lower case, sorted; null when unknown. */
  names: string[] | null;
  /** The procedures that pin what CALLs them (lower case, sorted): for judging stored code made through a proxy. */
  procedures?: string[];
  /** Why it is unknown (for the log). */
  reason?: string;
}

/** One row of the procedure's answer. */
export interface StoredObject {
  /** function, procedure, package, package body (the routine's type, lower case), trigger, view, or default (a column default). */
  kind: string;
  /** What a statement names to run it: the routine, the view, the trigger's or column's table. */
  name: string;
  text: string;
}

export const STORED_CODE_PROCEDURE = 'mysql.wakeproxy_stored_code';

/** More objects than this on one compute: unknown (every session pins) rather than an unbounded read. */
export const MAX_STORED_OBJECTS = 100_000;

/**
 * The procedure, on one line (the server's --init-file reader takes one statement per
 * line). Column defaults cannot call stored functions, so only those using a hazard
 * word are read.
 */
export function storedCodeProcedureSql(definer: string): string {
  return (
    `CREATE DEFINER = ${definer} PROCEDURE IF NOT EXISTS ${STORED_CODE_PROCEDURE}() READS SQL DATA SQL SECURITY DEFINER ` +
    'SELECT LOWER(ROUTINE_TYPE) AS kind, ROUTINE_NAME AS name, ROUTINE_DEFINITION AS text FROM information_schema.ROUTINES ' +
    "UNION ALL SELECT 'trigger', EVENT_OBJECT_TABLE, ACTION_STATEMENT FROM information_schema.TRIGGERS " +
    "UNION ALL SELECT 'view', TABLE_NAME, VIEW_DEFINITION FROM information_schema.VIEWS " +
    "UNION ALL SELECT 'default', TABLE_NAME, COLUMN_DEFAULT FROM information_schema.COLUMNS WHERE COLUMN_DEFAULT IS NOT NULL AND " +
    "(LOWER(COLUMN_DEFAULT) LIKE '%nextval%' OR LOWER(COLUMN_DEFAULT) LIKE '%setval%' OR LOWER(COLUMN_DEFAULT) LIKE '%next%value%' OR LOWER(COLUMN_DEFAULT) LIKE '%get\\_lock%');"
  );
}

/** Words whose use in stored code leaves untracked state: a named lock, a sequence's value for the session. */
const HAZARD_WORDS = new Set(['get_lock', 'nextval', 'setval']);
/** NEXT VALUE FOR, comments allowed between the words. */
const NEXT_VALUE = /\bnext(?:\s|\/\*[^]*?\*\/|(?:--\s|#)[^\n]*(?:\n|$))+value\b/i;
/** Words as the server reads unquoted identifiers: ASCII letters, digits, _ and $, anything beyond ASCII. */
const WORDS = /[A-Za-z0-9_$\u0080-\u{10FFFF}]+/gu;
/** Quoted identifiers (backticks; double quotes under ANSI_QUOTES), whose names may hold any character. */
const QUOTED = /`((?:[^`]|``)+)`|"((?:[^"\\]|\\.|"")+)"/gu;

/** Whether `text` uses a hazard word itself. */
export function usesHazardWord(text: string): boolean {
  return hazardIn(text, mentionedNames(text));
}

/** `words`: the text's own (mentionedNames). */
function hazardIn(text: string, words: Set<string>): boolean {
  for (const w of words) if (HAZARD_WORDS.has(w)) return true;
  return NEXT_VALUE.test(text);
}

/** Every word and quoted identifier of `text`, lower case (strings and comments included: more is only safer). */
export function mentionedNames(text: string): Set<string> {
  const names = new Set<string>();
  // Two passes: a quote inside a string must not hide the words after it.
  for (const m of text.matchAll(WORDS)) names.add(m[0].toLowerCase());
  for (const m of text.matchAll(QUOTED)) names.add((m[1]?.replaceAll('``', '`') ?? m[2]!.replaceAll('""', '"')).toLowerCase());
  return names;
}

/**
 * The names a statement must not mention without pinning: the fixed point of "its text
 * uses a hazard word, or mentions a name already in the set", over every object. A
 * procedure runs only by CALL: what CALLs a hazardous one is hazardous (a mere mention,
 * GET DIAGNOSTICS of the sys schema's `diagnostics`, is not), and its name is no name a
 * statement must avoid, since a client's CALL pins anyway: procedures are given apart,
 * for judging stored code made through a proxy. So a fresh compute, whose sys schema
 * has a procedure that takes a named lock (ps_setup_save), has no names at all.
 */
export function hazardsOf(objects: readonly StoredObject[]): { names: string[]; procedures: string[] } {
  const hazardous = objects.map(() => false);
  /** Which objects mention a word, and which CALL a procedure: walked when it turns out hazardous. */
  const mentionedBy = new Map<string, number[]>();
  const calledBy = new Map<string, number[]>();
  const queue: number[] = [];
  const mark = (i: number) => {
    if (hazardous[i]) return;
    hazardous[i] = true;
    queue.push(i);
  };
  objects.forEach((o, i) => {
    const words = mentionedNames(o.text);
    if (hazardIn(o.text, words)) mark(i);
    for (const w of words) add(mentionedBy, w, i);
    for (const m of o.text.matchAll(CALLS)) add(calledBy, (m[1] ?? m[2]!).replaceAll('``', '`').toLowerCase(), i);
  });
  // Names already followed, by how they run: mentioned (functions, views, tables) or called (procedures).
  const followed = new Set<string>();
  while (queue.length > 0) {
    const o = objects[queue.pop()!]!;
    const called = o.kind === 'procedure';
    const key = `${called ? 'call' : 'name'} ${o.name.toLowerCase()}`;
    if (followed.has(key)) continue;
    followed.add(key);
    for (const i of (called ? calledBy : mentionedBy).get(o.name.toLowerCase()) ?? []) mark(i);
  }
  const names = new Set<string>();
  const procedures = new Set<string>();
  objects.forEach((o, i) => {
    if (hazardous[i]) (o.kind === 'procedure' ? procedures : names).add(o.name.toLowerCase());
  });
  return { names: [...names].sort(), procedures: [...procedures].sort() };
}

/** CALL [db.]name: the procedure's name, unquoted or in backticks. */
const CALLS = /\bcall\s+(?:(?:`(?:[^`]|``)+`|[A-Za-z0-9_$\u0080-\u{10FFFF}]+)\s*\.\s*)?(?:`((?:[^`]|``)+)`|([A-Za-z0-9_$\u0080-\u{10FFFF}]+))/giu;

function add(map: Map<string, number[]>, key: string, i: number): void {
  const list = map.get(key);
  if (list) list.push(i);
  else map.set(key, [i]);
}

/** The procedure's rows, checked: anything unexpected throws (the caller then says "unknown"). */
export function storedObjectsFromRows(rows: unknown): StoredObject[] {
  if (!Array.isArray(rows)) throw new StoredCodeFormatError('the stored-code procedure returned no rows');
  if (rows.length > MAX_STORED_OBJECTS) throw new StoredCodeFormatError(`${rows.length} stored objects, over ${MAX_STORED_OBJECTS}`);
  return rows.map((r: Record<string, unknown>, i) => {
    const kind = text(r?.kind);
    const name = text(r?.name);
    if (kind === null || name === null) throw new StoredCodeFormatError(`row ${i} of the stored-code procedure has no kind or name`);
    // A definition the reader may not see comes back NULL: only the definer's own would do.
    return { kind, name, text: text(r.text) ?? '' };
  });
}

/** A wire answer's `storedCode`, checked; anything unexpected is unknown, never "none". */
export function parseStoredCode(v: unknown): StoredCode {
  if (v === undefined) return { readAt: new Date(0).toISOString(), names: null, reason: 'the answer has no storedCode (a control plane from before it)' };
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new StoredCodeFormatError('storedCode is not an object');
  const o = v as Record<string, unknown>;
  if (typeof o.readAt !== 'string' || Number.isNaN(Date.parse(o.readAt))) throw new StoredCodeFormatError('storedCode.readAt is not a time');
  if (o.names === null) return { readAt: o.readAt, names: null, reason: typeof o.reason === 'string' ? o.reason : 'not said' };
  if (!isNameList(o.names)) throw new StoredCodeFormatError('storedCode.names is not a list of lower-case names');
  if (o.procedures !== undefined && !isNameList(o.procedures)) throw new StoredCodeFormatError('storedCode.procedures is not a list of lower-case names');
  return { readAt: o.readAt, names: o.names, procedures: o.procedures ?? [] };
}

function isNameList(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((n) => typeof n === 'string' && n !== '' && n === n.toLowerCase());
}

export class StoredCodeFormatError extends Error {
  override readonly name = 'StoredCodeFormatError';
}

function text(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  return null;
}
