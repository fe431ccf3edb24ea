// Transaction pooling hands a client's next statement to whichever backend is free, so
// a statement that leaves state behind on its backend must keep ("pin") that backend to
// the client. The compute's session trackers report most of it (tracked-session.ts):
// system variables (replayed, or a pin), the database, and a bare "state changed" for
// user variables, temporary tables, PREPARE, SET ROLE. Checked against MariaDB 10.11,
// they report nothing for GET_LOCK, `SELECT ... INTO @v`, `DO (SELECT @v := ...)`,
// XA START or SET TRANSACTION (the next transaction's, possibly another client's); and
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
// Read as latin1 (see sql-lexer.ts).
import { executableMarker, isDigit, isWordChar, skipLine, skipQuoted } from './sql-lexer.js';
import { learnDefinition } from './stored-code-ddl.js';
import type { StoredCodeNames } from './stored-code-names.js';

export type PinReason =
  | 'user_variable'
  | 'set_statement'
  | 'use_database'
  | 'temporary_table'
  | 'prepared_statement'
  | 'lock'
  | 'found_rows'
  | 'handler'
  | 'stored_procedure'
  | 'sequence'
  | 'stored_code'
  | 'stored_code_unknown'
  | 'session_state'
  | 'command';

export interface QueryVerdict {
  /** Run on a pinned backend from now on; null when the statement leaves no state by its text. */
  pin: PinReason | null;
  /**
   * The statement only sets autocommit. The server flags it as a state change, but
   * autocommit is visible in every status, so the status flags judge it instead:
   * `SET autocommit=1` (Django, PyMySQL's autocommit=True) does not pin.
   */
  autocommitOnly: boolean;
  /** `SET STATEMENT ... FOR`: the variables it sets (lower case), which hold for that statement only. */
  temporary?: string[];
  /** The text has a SET: its text in lower case (a variable it names is its own doing, not a restore). */
  setsVariables?: string;
  /** `SET NAMES ... COLLATE c`: the collation the tracker does not report. */
  collation?: string;
  /** What the text reads or changes of the previous statement's values (READS_INSERT_ID, ...); absent: none. */
  previous?: number;
}

// What a statement does with the values its session's previous statement left
// (previous-statement.ts). Found by the same scan, by whole words outside strings and
// comments: a column named `identity` costs a needless SET, never a wrong answer.
/** Reads LAST_INSERT_ID() (also `@@last_insert_id`, `@@identity`). */
export const READS_INSERT_ID = 1;
/** May change it: INSERT, REPLACE, LOAD DATA, CREATE ... SELECT as a statement, or LAST_INSERT_ID(expr). */
export const CHANGES_INSERT_ID = 2;
/**
 * Reads what the previous statement left that no SET can give back: ROW_COUNT(),
 * FOUND_ROWS(), its warnings and errors (SHOW WARNINGS, SHOW ERRORS, SHOW COUNT(*)
 * WARNINGS, @@warning_count, @@error_count, GET DIAGNOSTICS), whose texts may hold another
 * client's data (a duplicate key's value).
 */
export const READS_ROW_COUNTS = 4;
/** LOAD as a statement: its reply may ask for the client's file, so nothing of the proxy's may follow it before its end. */
export const MAY_READ_FILE = 8;

const AUTOCOMMIT_ONLY =
  /^\s*SET\s+(?:(?:SESSION|LOCAL)\s+|@@(?:SESSION\.|LOCAL\.)?)?AUTOCOMMIT\s*(?:=|:=)\s*(?:0|1|ON|OFF|TRUE|FALSE)\s*;?\s*$/i;

/** What a word of the scan means: a pin anywhere or as a statement's first word, and `previous` bits anywhere or first. */
interface WordMeaning {
  anywhere?: PinReason;
  first?: PinReason;
  previous?: number;
  previousFirst?: number;
  /** READS_ROW_COUNTS when the statement's first word is this one (SHOW WARNINGS, GET DIAGNOSTICS). */
  readsAfter?: string;
}

/** The words the scan looks up (one lookup per word: most words are none of these). */
const WORDS: Record<string, WordMeaning> = {
  TEMPORARY: { anywhere: 'temporary_table' },
  GET_LOCK: { anywhere: 'lock' },
  LOCK: { anywhere: 'lock' },
  // BACKUP STAGE holds the session's backup lock from START to END, and the trackers say nothing of it.
  BACKUP: { first: 'lock' },
  SQL_CALC_FOUND_ROWS: { anywhere: 'found_rows' },
  NEXTVAL: { anywhere: 'sequence' },
  SETVAL: { anywhere: 'sequence' },
  PREPARE: { first: 'prepared_statement' },
  EXECUTE: { first: 'prepared_statement' },
  DEALLOCATE: { first: 'prepared_statement' },
  HANDLER: { first: 'handler' },
  // A procedure may leave anything behind, and MariaDB flags every CALL as a session
  // state change anyway (it restores character_set_client on the way out).
  CALL: { first: 'stored_procedure' },
  LAST_INSERT_ID: { previous: READS_INSERT_ID | CHANGES_INSERT_ID },
  // `SET @@identity = n` changes it: a statement that names it may.
  IDENTITY: { previous: READS_INSERT_ID | CHANGES_INSERT_ID },
  ROW_COUNT: { previous: READS_ROW_COUNTS },
  FOUND_ROWS: { previous: READS_ROW_COUNTS },
  WARNING_COUNT: { previous: READS_ROW_COUNTS },
  ERROR_COUNT: { previous: READS_ROW_COUNTS },
  WARNINGS: { readsAfter: 'SHOW' },
  ERRORS: { readsAfter: 'SHOW' },
  DIAGNOSTICS: { readsAfter: 'GET' },
  // Stored functions and triggers give LAST_INSERT_ID() back when they return (checked on 10.11.19).
  INSERT: { previousFirst: CHANGES_INSERT_ID },
  REPLACE: { previousFirst: CHANGES_INSERT_ID },
  LOAD: { previousFirst: CHANGES_INSERT_ID | MAY_READ_FILE },
  CREATE: { previousFirst: CHANGES_INSERT_ID },
};

/** Words after which a statement starts inside a compound statement (BEGIN NOT ATOMIC, IF, loops). */
const STARTS_STATEMENT = new Set(['BEGIN', 'ATOMIC', 'THEN', 'ELSE', 'DO', 'LOOP', 'REPEAT']);

/** Words after SET that leave state the trackers do not describe. */
const SET_PINS = new Set(['ROLE', 'TRANSACTION']);

const LONGEST_KEYWORD = 'SQL_CALC_FOUND_ROWS'.length;

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
 * here adds to (stored-code-ddl.ts).
 */
export function judgeQuery(sql: Buffer, tracked = false, code: StoredCodeNames | null = null): QueryVerdict {
  const text = sql.toString('latin1');
  if (AUTOCOMMIT_ONLY.test(text)) return AUTOCOMMIT;
  const found = scan(text, tracked, code);
  if (found.defines) learnDefinition(text, code!);
  if (found.pin) return { pin: found.pin, autocommitOnly: false, previous: previousOfPinned(text) };
  const previous = found.previous;
  if (!tracked || !found.sets) return previous === 0 ? NOTHING : { pin: null, autocommitOnly: false, previous };
  const verdict: QueryVerdict = { pin: null, autocommitOnly: false, setsVariables: text.toLowerCase() };
  if (previous !== 0) verdict.previous = previous;
  // A plain SET of a variable the proxy does not replay pins before it runs: the backend
  // is the client's from then on, and nothing the proxy sends to it afterwards (turning
  // the trackers off) lands in what the setting records (SET profiling=1, SHOW PROFILES).
  const assigned = /^\s*SET\s+(?!STATEMENT\b)([^]*)$/i.exec(text);
  if (assigned && assignedNames(assigned[1]!).some((name) => !SET_REPLAYED.test(name))) {
    return previous === 0 ? SET_PINNED : { ...SET_PINNED, previous: previous | previousOfPinned(text) };
  }
  const statement = /^\s*SET\s+STATEMENT\s+([^]*?)\s+FOR\s/i.exec(text);
  if (statement) verdict.temporary = assignedNames(statement[1]!);
  const names = /\bSET\s+NAMES\s+\S+\s+COLLATE\s+['"`]?(\w+)/i.exec(text);
  if (names) verdict.collation = names[1]!.toLowerCase();
  return verdict;
}

/** What SET may assign without a pin: the replayed settings, autocommit, the trackers (the compute's report decides). */
const SET_REPLAYED =
  /^(character_set_(client|results|connection)|collation_connection|time_zone|sql_mode|tx_isolation|tx_read_only|transaction_isolation|transaction_read_only|autocommit|session_track_\w+)$/;

const SET_PINNED: QueryVerdict = { pin: 'set_statement', autocommitOnly: false };

/** The session variables a SET list assigns (lower case): `a = 1, @@SESSION.b := 'x'`. */
function assignedNames(list: string): string[] {
  return [...list.matchAll(/(?:^|,)\s*(?:(?:SESSION|LOCAL)\s+)?(?:@@(?:SESSION\.|LOCAL\.)?)?(\w+)\s*:?=/gi)].map((m) => m[1]!.toLowerCase());
}

interface Scan {
  pin: PinReason | null;
  /** A SET statement was seen (tracked: left to the trackers). */
  sets: boolean;
  /** A statement of the text starts with CREATE or ALTER, and the compute's stored code is followed. */
  defines: boolean;
  /** What it does with the previous statement's values (READS_INSERT_ID, ...). */
  previous: number;
}

const found: Scan = { pin: null, sets: false, defines: false, previous: 0 };

function scan(s: string, tracked: boolean, code: StoredCodeNames | null): Scan {
  found.pin = null;
  found.sets = false;
  found.defines = false;
  found.previous = 0;
  // Null unless the compute has stored code that pins: then nothing more is done per word.
  const names = code === null ? null : code.names;
  const n = s.length;
  let statementStart = true;
  /** The previous word was a statement-starting SET: the next word says what it sets. */
  let afterSet = false;
  /** The previous word was NEXT (NEXT VALUE FOR a sequence). */
  let afterNext = false;
  /** Past a `;`: ROW_COUNT() and FOUND_ROWS() read a statement of the same text from here. */
  let later = false;
  /** The current statement's first word (upper case), for SHOW WARNINGS and GET DIAGNOSTICS. */
  let firstWord = '';
  let i = 0;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (isWordChar(c)) {
      let j = i + 1;
      while (j < n && isWordChar(s.charCodeAt(j))) j++;
      let raw: string | null = null;
      if (names !== null && code!.mayMatch(j - i) && code!.matches((raw = s.slice(i, j)))) {
        found.pin = 'stored_code';
        return found;
      }
      let next = false;
      let nextWord = false;
      if (statementStart) firstWord = '';
      if (j - i <= LONGEST_KEYWORD) {
        const word = (raw ?? s.slice(i, j)).toUpperCase();
        if (statementStart) firstWord = word;
        if (statementStart && code !== null && (word === 'CREATE' || word === 'ALTER')) found.defines = true;
        const meaning = WORDS[word];
        let reason: PinReason | undefined;
        if (meaning !== undefined) {
          reason = meaning.anywhere ?? (statementStart ? meaning.first : undefined);
          let previous = (meaning.previous ?? 0) | (statementStart ? (meaning.previousFirst ?? 0) : 0);
          if (meaning.readsAfter === firstWord) previous |= READS_ROW_COUNTS;
          found.previous |= later ? previous & ~READS_ROW_COUNTS : previous;
        }
        if (afterNext && word === 'VALUE') reason = 'sequence';
        nextWord = word === 'NEXT';
        if (statementStart && (word === 'SET' || word === 'USE')) {
          if (!tracked) reason = word === 'SET' ? 'set_statement' : 'use_database';
          else if (word === 'SET') {
            found.sets = true;
            afterSet = true;
            statementStart = false;
            i = j;
            continue;
          }
        }
        if (afterSet && SET_PINS.has(word)) reason = 'set_statement';
        if (reason) {
          found.pin = reason;
          return found;
        }
        next = STARTS_STATEMENT.has(word);
      }
      afterSet = false;
      afterNext = nextWord;
      statementStart = next;
      i = j;
      continue;
    }
    switch (c) {
      case 0x27: // '
        i = skipQuoted(s, i, c);
        continue;
      case 0x22: // " (an identifier under ANSI_QUOTES)
      case 0x60: /* ` */ {
        const end = skipQuoted(s, i, c);
        if (names !== null && (code!.mayMatch(end - i - 2) || holds(s, i + 1, end - 1, c)) && code!.matches(quotedName(s, i, end, c))) {
          found.pin = 'stored_code';
          return found;
        }
        i = end;
        continue;
      }
      case 0x40: // @
        if (s.charCodeAt(i + 1) === 0x40) {
          i += 2; // @@system_variable: reading one leaves nothing behind
          continue;
        }
        found.pin = 'user_variable';
        return found;
      case 0x3b: // ;
        later = true;
        statementStart = true;
        break;
      case 0x3a: // : after a label
        statementStart = true;
        break;
      case 0x23: // # comment
        i = skipLine(s, i);
        continue;
      case 0x2d: // -- comment (needs a space or control character after it)
        if (s.charCodeAt(i + 1) === 0x2d && (i + 2 >= n || s.charCodeAt(i + 2) <= 0x20)) {
          i = skipLine(s, i);
          continue;
        }
        break;
      case 0x2f: // /* comment */, but /*! and /*M! hold statement text that runs
        if (s.charCodeAt(i + 1) === 0x2a) {
          const bang = executableMarker(s, i);
          if (bang > 0) {
            i += bang;
            while (i < n && isDigit(s.charCodeAt(i))) i++; // version number
            continue;
          }
          const end = s.indexOf('*/', i + 2);
          i = end < 0 ? n : end + 2;
          continue;
        }
        break;
    }
    i++;
  }
  return found;
}

/** Whether s[from, to) holds `c` (a quoted identifier's doubled quote: its name is shorter than its text). */
function holds(s: string, from: number, to: number, c: number): boolean {
  for (let k = from; k < to; k++) if (s.charCodeAt(k) === c) return true;
  return false;
}

/** The name a quoted identifier from `start` to `end` holds: quotes off, doubled ones single. */
function quotedName(s: string, start: number, end: number, quote: number): string {
  const inner = s.slice(start + 1, s.charCodeAt(end - 1) === quote && end - start >= 2 ? end - 1 : end);
  const q = String.fromCharCode(quote);
  return inner.includes(q + q) ? inner.replaceAll(q + q, q) : inner;
}
