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
// see the compute's id (README, "Connection ids and KILL").
//
// mentionsIds() is the cheap test every pooled COM_QUERY goes through: one pass over
// the bytes looking for a few letters; only a statement that has one of the words is
// lexed (idUseIn). Read as latin1 (see sql-lexer.ts).
import type { ErrPacket } from '../protocol/index.js';
import { isWord, isWordChar, tokenize, type Token } from './sql-lexer.js';

function notSupported(message: string): ErrPacket {
  return { code: 1235, sqlState: '42000', message };
}

// A SIGNAL's message (how a relay holding a compute connection answers) is at most 128 characters.
export const ID_REFUSED = notSupported('wake-proxy: pooled, CONNECTION_ID() is answered only by a bare SELECT CONNECTION_ID() (elsewhere a compute id)');
export const PSEUDO_THREAD_ID_REFUSED = notSupported("wake-proxy: pooled, pseudo_thread_id is a compute connection's id; use a bare SELECT CONNECTION_ID()");
export const HIDDEN_KILL_REFUSED = notSupported('wake-proxy: pooled, KILL must be a statement of its own (not with others, in PREPARE or EXECUTE)');
export const EXPLAIN_FOR_REFUSED = notSupported('wake-proxy: pooled, SHOW EXPLAIN/ANALYZE FOR and EXPLAIN FOR CONNECTION name compute threads: not supported');
export const UNREADABLE_REFUSED = notSupported('wake-proxy: pooled, a statement that names connection ids must be lexically whole');

const LOWER_K = 0x6b;
const LOWER_X = 0x78;
const LOWER_Z = 0x7a;
// `_` | 0x20: 0x7f, which only `_` and DEL give.
const FOLDED_UNDERSCORE = 0x7f;

/**
 * Whether bytes [from, end) may hold one of the words: CONNECTION_ID, PSEUDO_THREAD_ID,
 * KILL, EXPLAIN or ANALYZE, in any case. A byte test, one pass with a compare or four
 * per byte; false for most statements, and a true is only a reason to lex.
 */
export function mentionsIds(b: Buffer, from: number): boolean {
  const end = b.length;
  for (let i = from; i < end; i++) {
    const l = b[i]! | 0x20;
    if (l < LOWER_K) continue;
    if (l === FOLDED_UNDERSCORE) {
      if (lettersAt(b, i + 1, 'id', from) && (lettersAt(b, i - 10, 'connection', from) || lettersAt(b, i - 6, 'thread', from))) return true;
    } else if (l === LOWER_K) {
      if (lettersAt(b, i, 'kill', from) && !wordCharAt(b, i - 1, from) && !wordCharAt(b, i + 4, from)) return true;
    } else if (l === LOWER_X) {
      if (lettersAt(b, i - 1, 'explain', from)) return true;
    } else if (l === LOWER_Z) {
      if (lettersAt(b, i - 5, 'analyze', from)) return true;
    }
  }
  return false;
}

/** Whether b[at..] holds `lower` (ASCII letters, lower case) in any case, within [from, b.length). */
function lettersAt(b: Buffer, at: number, lower: string, from: number): boolean {
  if (at < from || at + lower.length > b.length) return false;
  for (let j = 0; j < lower.length; j++) if ((b[at + j]! | 0x20) !== lower.charCodeAt(j)) return false;
  return true;
}

function wordCharAt(b: Buffer, at: number, from: number): boolean {
  return at >= from && at < b.length && isWordChar(b[at]!);
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
  const tokens = tokenize(sql, Number.MAX_SAFE_INTEGER);
  if (!tokens) return UNREADABLE_REFUSED;
  let dynamic = false;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.kind !== 'word') continue;
    const word = t.text.toUpperCase();
    switch (word) {
      case 'CONNECTION_ID':
        if (tokens[i + 1]?.text === '(') return ID_REFUSED;
        break;
      case 'PSEUDO_THREAD_ID':
        return PSEUDO_THREAD_ID_REFUSED;
      case 'KILL':
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
      const inner = idUseIn(unquote(t), true);
      if (inner) return inner;
    }
  }
  return null;
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
