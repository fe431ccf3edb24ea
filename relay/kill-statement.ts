// Client -> Server: what a KILL statement asks, read from its text so the proxy can
// act on the right compute thread (the ids clients hold are the proxy's session ids).
// MariaDB 10.11's grammar:
//
//   KILL [HARD | SOFT] { [CONNECTION | QUERY] expr | QUERY ID expr | [CONNECTION | QUERY] USER user }
//
// The id is an expression the server evaluates. The proxy knows the value of a
// number literal (or a quoted string of digits, which the server converts), and of
// CONNECTION_ID() (the session's own id); any other expression is reported as such,
// for the caller to refuse where it cannot let the compute evaluate it.
import { firstWord, isWord, tokenize, type Token } from './sql-lexer.js';

export type KillScope = 'connection' | 'query';

export type KillStatement =
  | {
      kind: 'thread';
      scope: KillScope;
      /** HARD, SOFT, or neither (the server's default, HARD). */
      hardness: 'HARD' | 'SOFT' | null;
      /** The id's decimal digits as written (no sign, no leading zeros), or 'self' for CONNECTION_ID(). */
      target: string | 'self';
    }
  /** KILL QUERY ID: a query id, not a connection id. */
  | { kind: 'query_id' }
  /** KILL ... USER name: every connection (or query) of an account. */
  | { kind: 'user' }
  /** An id the proxy cannot evaluate (an expression, a negative number, trailing statements). */
  | { kind: 'expression'; scope: KillScope };

/** Tokens a KILL the proxy understands has at most: KILL HARD QUERY CONNECTION_ID ( ) ; */
const MAX_TOKENS = 12;

/** `sql` is a COM_QUERY's text as latin1. Null when the statement is not a KILL. */
export function parseKill(sql: string): KillStatement | null {
  const tokens = tokenize(sql, MAX_TOKENS);
  if (!tokens) return firstWord(sql) === 'KILL' ? { kind: 'expression', scope: 'connection' } : null;
  if (!isWord(tokens[0], 'KILL')) return null;
  let i = 1;
  let hardness: 'HARD' | 'SOFT' | null = null;
  if (isWord(tokens[i], 'HARD') || isWord(tokens[i], 'SOFT')) hardness = tokens[i++]!.text.toUpperCase() as 'HARD' | 'SOFT';
  let scope: KillScope = 'connection';
  if (isWord(tokens[i], 'CONNECTION')) {
    i++;
  } else if (isWord(tokens[i], 'QUERY')) {
    scope = 'query';
    i++;
    if (isWord(tokens[i], 'ID')) return { kind: 'query_id' };
  }
  if (isWord(tokens[i], 'USER')) return { kind: 'user' };
  let end = tokens.length;
  if (end > i && tokens[end - 1]!.text === ';' && tokens[end - 1]!.kind === 'punct') end--;
  const target = targetOf(tokens.slice(i, end));
  return target === null ? { kind: 'expression', scope } : { kind: 'thread', scope, hardness, target };
}

/** A number literal, a quoted string of digits, or CONNECTION_ID(); null for anything else. */
function targetOf(t: Token[]): string | 'self' | null {
  if (t.length === 1) {
    const [only] = t;
    if (only!.kind === 'number') return digits(only!.text);
    if (only!.kind === 'string' && /^.[0-9]+.$/.test(only!.text)) return digits(only!.text.slice(1, -1));
    return null;
  }
  if (t.length === 3 && isWord(t[0], 'CONNECTION_ID') && t[1]!.text === '(' && t[2]!.text === ')') return 'self';
  return null;
}

function digits(text: string): string {
  return text.replace(/^0+(?=\d)/, '');
}
