// Client -> Server, pooled modes: statements that name a connection id in a way the
// proxy does not answer itself. With pooled compute connections such a statement
// would run on whichever connection the session holds, so it would see (or act on) a
// compute thread's id: not the id the greeting gave, not one KILL takes, and in
// transaction mode one that moves to another client between two statements. So these
// are refused with ER_NOT_SUPPORTED_YET, saying what to use instead:
//
// - CONNECTION_ID() anywhere but a bare SELECT CONNECTION_ID() (connection-id-query.ts),
//   and any statement prepared with COM_STMT_PREPARE that calls it;
// - pseudo_thread_id (which starts as the connection's id);
// - KILL anywhere but at the start of a text that is one KILL statement (kill-statement.ts):
//   after another statement, inside BEGIN ... END, prepared, or in the text of PREPARE
//   ... FROM / EXECUTE IMMEDIATE;
// - SHOW EXPLAIN|ANALYZE FOR and EXPLAIN|ANALYZE FOR CONNECTION, which name a thread.
//
// The proxy cannot see inside stored code or SQL built at run time from pieces: those
// see the compute's id (README, "Connection ids and KILL"). So defining stored code here
// (CREATE or ALTER of a procedure, function, trigger, event, view or package) may read
// the id in its body, as a definition made elsewhere does; a KILL in it is refused.
//
// mentionsIds() is the cheap test every pooled COM_QUERY goes through (the first word's
// first letters, native searches for `_` and `;`); only a statement it lets through is
// lexed (idUseIn). Read as latin1 (see sql-lexer.ts).
import type { ErrPacket } from '../protocol/index.js';
import { isSpace, isWord, isWordChar, tokenize, type Token } from './sql-lexer.js';

function notSupported(message: string): ErrPacket {
  return { code: 1235, sqlState: '42000', message };
}

// A SIGNAL's message (how a relay holding a compute connection answers) is at most 128 characters.
export const ID_REFUSED = notSupported('wake-proxy: pooled, CONNECTION_ID() is answered only by a bare SELECT CONNECTION_ID() (elsewhere a compute id)');
export const PSEUDO_THREAD_ID_REFUSED = notSupported("wake-proxy: pooled, pseudo_thread_id is a compute connection's id; use a bare SELECT CONNECTION_ID()");
export const HIDDEN_KILL_REFUSED = notSupported('wake-proxy: pooled, KILL must be a statement of its own (not with others, in PREPARE or EXECUTE)');
export const EXPLAIN_FOR_REFUSED = notSupported('wake-proxy: pooled, SHOW EXPLAIN/ANALYZE FOR and EXPLAIN FOR CONNECTION name compute threads: not supported');
export const UNREADABLE_REFUSED = notSupported('wake-proxy: pooled, a statement that names connection ids must be lexically whole');

const UNDERSCORE = 0x5f;
const SEMICOLON = 0x3b;

/**
 * Whether the statement in bytes [from, end) may name an id the way idUseIn() refuses,
 * by what such a statement must hold: CONNECTION_ID and PSEUDO_THREAD_ID have a `_`;
 * a KILL after another statement, or inside BEGIN ... END, follows a `;`; SHOW EXPLAIN,
 * EXPLAIN|ANALYZE ... FOR CONNECTION, PREPARE and EXECUTE (whose strings are statements),
 * CREATE and ALTER (a body with one KILL has no `;`) start the text. So: the first word's first letters, the `_`s, and a `;` that is not
 * the last thing in the text. A byte test (native searches, a few compares) that is
 * false for most statements of any length; a true is only a reason to lex.
 */
export function mentionsIds(b: Buffer, from: number): boolean {
  const end = b.length;
  if (from >= end) return false;
  const first = firstWordAt(b, from);
  if (first < 0 || startsLikeIdUse(b, first)) return true;
  for (let i = b.indexOf(UNDERSCORE, from); i >= 0; i = b.indexOf(UNDERSCORE, i + 1)) {
    if (lettersAt(b, i + 1, 'id', from) && (lettersAt(b, i - 10, 'connection', from) || lettersAt(b, i - 6, 'thread', from))) return true;
  }
  const semicolon = b.indexOf(SEMICOLON, from);
  if (semicolon < 0) return false;
  for (let i = semicolon + 1; i < end; i++) if (!isSpace(b[i]!)) return true;
  return false;
}

/**
 * Where the text's first word starts, past spaces and comments; -1 when that is not
 * plain to see (an executable comment, an unterminated comment, no word at all).
 */
function firstWordAt(b: Buffer, from: number): number {
  const end = b.length;
  let i = from;
  while (i < end) {
    const c = b[i]!;
    if (isSpace(c)) {
      i++;
    } else if (c === 0x23 || (c === 0x2d && b[i + 1] === 0x2d && (i + 2 >= end || b[i + 2]! <= 0x20))) {
      const eol = b.indexOf(0x0a, i);
      if (eol < 0) return -1;
      i = eol + 1;
    } else if (c === 0x2f && b[i + 1] === 0x2a) {
      if (b[i + 2] === 0x21 || b[i + 2] === 0x4d) return -1; // /*! and /*M! run
      const close = b.indexOf('*/', i + 2, 'latin1');
      if (close < 0) return -1;
      i = close + 2;
    } else {
      return i;
    }
  }
  return -1;
}

/** A first word of KILL, PREPARE, EXECUTE, EXPLAIN, SHOW, ANALYZE, DESC[RIBE], CREATE or ALTER (by its first letters), or none at all. */
function startsLikeIdUse(b: Buffer, at: number): boolean {
  const c = b[at]! | 0x20;
  const next = (b[at + 1] ?? 0) | 0x20;
  switch (c) {
    case 0x6b: // k
    case 0x70: // p
    case 0x65: // e
      return true;
    case 0x73: // s: SHOW, not SELECT or SET
      return next === 0x68;
    case 0x61: // a: ANALYZE and ALTER (a body may hold a KILL), not AND
      return next === 0x6e ? ((b[at + 2] ?? 0) | 0x20) === 0x61 : next === 0x6c;
    case 0x63: // c: CREATE (a body may hold a KILL), not CALL or COMMIT
      return next === 0x72;
    case 0x64: // d: DESC, not DELETE or DROP
      return next === 0x65 && ((b[at + 2] ?? 0) | 0x20) === 0x73;
    default:
      return !isWordChar(b[at]!);
  }
}

/** Whether b[at..] holds `lower` (ASCII letters, lower case) in any case, within [from, b.length). */
function lettersAt(b: Buffer, at: number, lower: string, from: number): boolean {
  if (at < from || at + lower.length > b.length) return false;
  for (let j = 0; j < lower.length; j++) if ((b[at + j]! | 0x20) !== lower.charCodeAt(j)) return false;
  return true;
}

/** A COM_STMT_PREPARE's payload (command byte first): what refuses it, or null. */
export function prepareRefusal(payload: Buffer): ErrPacket | null {
  return mentionsIds(payload, 1) ? idUseIn(payload.toString('latin1', 1), true) : null;
}

/**
 * What refuses statement text `sql` (a COM_QUERY's, or `prepared`: a COM_STMT_PREPARE's),
 * or null. A COM_QUERY that is a bare SELECT CONNECTION_ID() or a KILL statement is the
 * caller's to answer before it asks.
 */
export function idUseIn(sql: string, prepared: boolean): ErrPacket | null {
  return check(sql, prepared, false);
}

/** `inBody`: the text is (in) the body of stored code defined here, which runs later as the compute's. */
function check(sql: string, prepared: boolean, inBody: boolean): ErrPacket | null {
  const tokens = tokenize(sql, Number.MAX_SAFE_INTEGER);
  if (!tokens) return UNREADABLE_REFUSED;
  // Defining stored code reads no id: what its body reads later is the compute's (README).
  const reads = !inBody && !definesStoredCode(tokens);
  let dynamic = false;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.kind !== 'word') continue;
    const word = t.text.toUpperCase();
    switch (word) {
      case 'CONNECTION_ID':
        if (reads && tokens[i + 1]?.text === '(') return ID_REFUSED;
        break;
      case 'PSEUDO_THREAD_ID':
        if (reads) return PSEUDO_THREAD_ID_REFUSED;
        break;
      case 'KILL':
        // Never past the proxy, not even in a body: it would run on a shared connection.
        if (i > 0 || prepared) return HIDDEN_KILL_REFUSED;
        break;
      case 'SHOW':
        if (isWord(tokens[i + 1], 'EXPLAIN') || isWord(tokens[i + 1], 'ANALYZE')) return EXPLAIN_FOR_REFUSED;
        break;
      case 'FOR':
        if (isWord(tokens[i + 1], 'CONNECTION')) return EXPLAIN_FOR_REFUSED;
        break;
      case 'PREPARE':
      case 'EXECUTE':
        dynamic = true;
        break;
    }
  }
  // PREPARE s FROM '...', EXECUTE IMMEDIATE '...': the strings are statements too.
  if (dynamic) {
    for (const t of tokens) {
      if (t.kind !== 'string' || !mentionsIds(Buffer.from(t.text, 'latin1'), 0)) continue;
      const inner = check(unquote(t), true, !reads);
      if (inner) return inner;
    }
  }
  return null;
}

/** What CREATE and ALTER define whose body runs later: its reads of the id are the compute's (as a body defined elsewhere). */
const STORED_KINDS = new Set(['PROCEDURE', 'FUNCTION', 'TRIGGER', 'EVENT', 'VIEW', 'PACKAGE']);
/** How far in the kind may come: OR REPLACE, DEFINER = `u`@`h`, ALGORITHM = ..., SQL SECURITY .... */
const MAX_PREAMBLE = 16;

function definesStoredCode(tokens: Token[]): boolean {
  if (!isWord(tokens[0], 'CREATE') && !isWord(tokens[0], 'ALTER')) return false;
  const end = Math.min(tokens.length, MAX_PREAMBLE);
  for (let i = 1; i < end; i++) {
    const t = tokens[i]!;
    if (t.kind === 'punct' && t.text === '(') return false;
    if (t.kind !== 'word') continue;
    const word = t.text.toUpperCase();
    if (STORED_KINDS.has(word)) return true;
    if (word === 'TABLE' || word === 'AS' || word === 'SELECT') return false;
  }
  return false;
}

/** A string literal's text: quotes off, doubled quotes and backslash escapes undone (enough to read words). */
function unquote(t: Token): string {
  const quote = t.text[0]!;
  return t.text
    .slice(1, -1)
    .split(quote + quote)
    .join(quote)
    .replace(/\\(.)/g, '$1');
}
