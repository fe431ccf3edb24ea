// Transaction pooling hands a client's next statement to whichever backend is free, so
// a statement that leaves state behind on its backend must keep ("pin") that backend to
// the client. The compute's session trackers report most of it (tracked-session.ts):
// system variables (replayed, or a pin), the database, and a bare "state changed" for
// user variables, temporary tables, PREPARE, SET ROLE. Checked against MariaDB 10.11,
// they report nothing for GET_LOCK, `SELECT ... INTO @v`, `DO (SELECT @v := ...)`,
// XA START, SET TRANSACTION (the next transaction's, possibly another client's) or an
// assignment to `@@name` without a scope (`SET @@time_zone=...`, not even flagged); and
// a user variable set in the same statement as a reported variable hides behind it.
// So the statement text is read too, all of it (SET inside IF ... END IF and BEGIN NOT
// ATOMIC ... END as well as first), conservatively: a false pin costs a little pooling,
// a missed one hands state to another client.
//
// Nor do they report a sequence advanced (NEXTVAL, SETVAL, NEXT VALUE FOR: LASTVAL then
// reads it per session), and nothing at all for a lock taken or a sequence advanced
// inside a stored function, trigger or view: a statement that mentions such stored
// code pins (`stored_code`; the compute's names, stored-code-names.ts), and while the
// compute's stored code is not known every statement does (`stored_code_unknown`,
// pin-judge.ts).
//
// Without the trackers (`tracked` false: a compute that cannot report), any SET and
// USE pin by their text, as they did before the trackers were read.
//
// Here: judgeQuery, which reads the text once (query-scan.ts) and then, for a SET the
// trackers will report, decides what the scan cannot (a variable the proxy does not
// replay pins before it runs; SET STATEMENT's variables hold for that statement only);
// what it answers is a QueryVerdict (query-verdict.ts). Read as latin1 (see sql-lexer.ts).
import { scanQuery } from './query-scan.js';
import { CHANGES_INSERT_ID, READS_INSERT_ID, READS_ROW_COUNTS, type QueryVerdict } from './query-verdict.js';
import { learnDefinition } from './stored-code-ddl.js';
import type { StoredCodeNames } from './stored-code-names.js';

const AUTOCOMMIT_ONLY =
  /^\s*SET\s+(?:(?:SESSION|LOCAL)\s+|@@(?:SESSION\.|LOCAL\.)?)?AUTOCOMMIT\s*(?:=|:=)\s*(?:0|1|ON|OFF|TRUE|FALSE)\s*;?\s*$/i;

const NOTHING: QueryVerdict = { pin: null, autocommitOnly: false };
const AUTOCOMMIT: QueryVerdict = { pin: null, autocommitOnly: true };

/**
 * A statement that pins stops the scan where it pins: what it may do with the previous
 * statement's values is then guessed from its whole text (a pin is rare).
 */
function previousOfPinned(text: string): number {
  return READS_INSERT_ID | CHANGES_INSERT_ID | (/\b(?:ROW_COUNT|FOUND_ROWS|WARNING_COUNT|ERROR_COUNT|WARNINGS|ERRORS|DIAGNOSTICS)\b/i.test(text) ? READS_ROW_COUNTS : 0);
}

/**
 * `sql` is a COM_QUERY's text (the payload after the command byte); `tracked`: the
 * compute's session trackers are read (transaction pooling on a tracked connection);
 * `code`: the compute's stored code that pins, which a CREATE or ALTER of stored code
 * here adds to (stored-code-ddl.ts); `modes`: what the session's sql_mode says of its
 * quotes (sql-lexer.ts stringModes: NO_BACKSLASH_ESCAPES, ANSI_QUOTES).
 */
export function judgeQuery(sql: Buffer, tracked = false, code: StoredCodeNames | null = null, modes = 0): QueryVerdict {
  const text = sql.toString('latin1');
  if (AUTOCOMMIT_ONLY.test(text)) return AUTOCOMMIT;
  const found = scanQuery(text, tracked, code, modes);
  if (found.defines) learnDefinition(text, code!);
  if (found.pin) return { pin: found.pin, autocommitOnly: false, previous: previousOfPinned(text) };
  const previous = found.previous;
  if (!tracked || !found.sets) return previous === 0 ? NOTHING : { pin: null, autocommitOnly: false, previous };
  const verdict: QueryVerdict = { pin: null, autocommitOnly: false, setsVariables: text.toLowerCase() };
  if (previous !== 0) verdict.previous = previous;
  const pinned = previous === 0 ? SET_PINNED : { ...SET_PINNED, previous: previous | previousOfPinned(text) };
  // MariaDB 10.11 reports no assignment to `@@name` without a scope (`SET @@time_zone=...`,
  // also after another assignment, or inside BEGIN ... END): the trackers cannot follow it.
  if (text.includes('@@') && BARE_ASSIGNMENT.test(text)) return pinned;
  // The SET read without its comments and name quotes (`SET /* c */ \`x\` = 1`).
  const set = /[`#]|\/\*|--/.test(text) ? withoutComments(text).replaceAll('`', '') : text;
  // A plain SET of a variable the proxy does not replay pins before it runs: the backend
  // is the client's from then on, and nothing the proxy sends to it afterwards (turning
  // the trackers off) lands in what the setting records (SET profiling=1, SHOW PROFILES).
  const assigned = /^\s*SET\s+(?!STATEMENT\b)([^]*)$/i.exec(set);
  if (assigned && assignedNames(assigned[1]!).some((name) => !SET_REPLAYED.test(name))) return pinned;
  const statement = /^\s*SET\s+STATEMENT\s+([^]*?)\s+FOR\s/i.exec(set);
  if (statement) verdict.temporary = assignedNames(statement[1]!);
  // The trackers report SET NAMES ... COLLATE as the charset alone: the collation comes from
  // the text, and a text whose collation cannot be read pins rather than replay the charset's default.
  if (/\bNAMES\b/i.test(set) && /\bCOLLATE\b/i.test(set)) {
    const names = /\bNAMES\s+\S+\s+COLLATE\s+['"]?(\w+)['"]?(?=\s*(?:$|[,;]|\*\/))/i.exec(set);
    if (!names) return pinned;
    const collation = names[1]!.toLowerCase();
    // COLLATE DEFAULT: the charset's default, as SET NAMES alone leaves it.
    if (collation !== 'default') verdict.collation = collation;
  }
  return verdict;
}

/** An assignment to a system variable named without SESSION., LOCAL. or GLOBAL. (a comparison `@@x = 1` matches too: a needless pin). */
const BARE_ASSIGNMENT = /@@(?!\s*(?:SESSION|LOCAL|GLOBAL)\s*\.)`?\w+`?\s*:?=/i;

/** `text` without its comments, each one space (an executable comment's text stays). */
function withoutComments(text: string): string {
  return text.replace(/\/\*(?!!|M!)[^]*?\*\/|(?:#|--(?=\s))[^\n]*/g, ' ');
}

/** What SET may assign without a pin: the replayed settings, autocommit, the trackers (the compute's report decides). */
const SET_REPLAYED =
  /^(character_set_(client|results|connection|server)|collation_(connection|server)|time_zone|sql_mode|tx_isolation|tx_read_only|transaction_isolation|transaction_read_only|autocommit|session_track_\w+)$/;

const SET_PINNED: QueryVerdict = { pin: 'set_statement', autocommitOnly: false };

/** The session variables a SET list assigns (lower case): `a = 1, @@SESSION.b := 'x'`. */
function assignedNames(list: string): string[] {
  return [...list.matchAll(/(?:^|,)\s*(?:(?:SESSION|LOCAL)\s+)?(?:@@(?:SESSION\s*\.|LOCAL\s*\.)?\s*)?(\w+)\s*:?=/gi)].map((m) => m[1]!.toLowerCase());
}
