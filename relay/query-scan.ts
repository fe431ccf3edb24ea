// Transaction pooling: the one pass over a COM_QUERY's text that the pin rules judge
// by (pin-rules.ts). Every statement of the text is read, not only the first: words
// outside strings and comments, the text of executable comments (`/*!`, `/*M!`), the
// statements inside compound statements (BEGIN NOT ATOMIC ... END, IF ... END IF,
// loops, after a label). It stops at the first word that pins, and otherwise collects
// what the text does with the previous statement's values (query-verdict.ts bits).
//
// It runs for every statement a transaction-pooled client sends: one table lookup per
// word short enough to be a keyword, and one result object reused by every call.
//
// Read as latin1 (see sql-lexer.ts).
import { backslashEscapes, executableMarker, isDigit, isWordChar, skipLine, skipQuoted } from './sql-lexer.js';
import { CHANGES_INSERT_ID, MAY_READ_FILE, READS_INSERT_ID, READS_ROW_COUNTS, type PinReason } from './query-verdict.js';
import type { StoredCodeNames } from './stored-code-names.js';

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

/** The other words scanQuery compares a word with; keywordAt knows every word of these lists and no other. */
const COMPARED = ['SET', 'USE', 'NEXT', 'VALUE', 'CREATE', 'ALTER'];

/**
 * Every word the scan compares with, by a hash of its letters in upper case: a word of
 * the statement is found, or found to be none of them, without a string made for it
 * (a slice and toUpperCase, which V8 runs in its runtime, were most of a point
 * select's judging).
 */
const KNOWN = new Map<number, string>();
for (const word of [...Object.keys(WORDS), ...Object.values(WORDS).flatMap((m) => m.readsAfter ?? []), ...STARTS_STATEMENT, ...SET_PINS, ...COMPARED]) {
  const h = wordHash(word, 0, word.length);
  const held = KNOWN.get(h);
  if (held !== undefined && held !== word) throw new Error(`query-scan: keywords ${held} and ${word} share a hash`);
  KNOWN.set(h, word);
}

/** FNV-1a over the word's characters, ASCII letters in upper case. */
function wordHash(s: string, from: number, to: number): number {
  let h = 0x811c9dc5;
  for (let k = from; k < to; k++) {
    let c = s.charCodeAt(k);
    if (c >= 0x61 && c <= 0x7a) c -= 0x20;
    h = Math.imul(h ^ c, 0x01000193);
  }
  return h;
}

/**
 * The keyword (upper case) s[from, to) is, in any case of its ASCII letters, or '' when
 * it is none the scan compares with. Keywords are ASCII, and no character of latin1
 * text but an ASCII letter has an ASCII letter for its upper case ('ß' becomes 'SS',
 * which no keyword holds): the same words toUpperCase would have matched.
 */
function keywordAt(s: string, from: number, to: number): string {
  const known = KNOWN.get(wordHash(s, from, to));
  if (known === undefined || known.length !== to - from) return '';
  for (let k = 0; k < known.length; k++) {
    let c = s.charCodeAt(from + k);
    if (c >= 0x61 && c <= 0x7a) c -= 0x20;
    if (c !== known.charCodeAt(k)) return '';
  }
  return known;
}

/** What scanQuery found; the same object for every call, good until the next. */
export interface QueryScan {
  pin: PinReason | null;
  /** A SET statement was seen (tracked: left to the trackers). */
  sets: boolean;
  /** A statement of the text starts with CREATE or ALTER, and the compute's stored code is followed. */
  defines: boolean;
  /** What it does with the previous statement's values (READS_INSERT_ID, ...). */
  previous: number;
}

const found: QueryScan = { pin: null, sets: false, defines: false, previous: 0 };

/**
 * Reads `s` (a COM_QUERY's text) up to its first pin, or whole. `tracked`: the compute's
 * session trackers are read, so a statement's first SET or USE is left to them; `code`: the
 * compute's stored code that pins (its names), null when not followed; `modes`: the
 * session's stringModes() (sql-lexer.ts).
 */
export function scanQuery(s: string, tracked: boolean, code: StoredCodeNames | null, modes = 0): QueryScan {
  // Under NO_BACKSLASH_ESCAPES (or ANSI_QUOTES, for "...") a backslash escapes nothing:
  // 'a\' is a whole string, and what follows it is statement text.
  const escapes = backslashEscapes(0x27, modes);
  const escapesDouble = backslashEscapes(0x22, modes);
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
  /** The current statement's first word (upper case, '' for one the scan knows nothing of), for SHOW WARNINGS and GET DIAGNOSTICS. */
  let firstWord = '';
  let i = 0;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (isWordChar(c)) {
      let j = i + 1;
      while (j < n && isWordChar(s.charCodeAt(j))) j++;
      if (names !== null && code!.mayMatch(j - i) && code!.matches(s.slice(i, j))) {
        found.pin = 'stored_code';
        return found;
      }
      let next = false;
      let nextWord = false;
      if (statementStart) firstWord = '';
      if (j - i <= LONGEST_KEYWORD) {
        // '' for a word the scan compares with nothing (most of them).
        const word = keywordAt(s, i, j);
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
        i = skipQuoted(s, i, c, escapes);
        continue;
      case 0x22: // " (an identifier under ANSI_QUOTES)
      case 0x60: /* ` */ {
        const end = skipQuoted(s, i, c, c === 0x60 || escapesDouble); // (a backquote never escapes: the common path)
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
