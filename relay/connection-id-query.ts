// Client -> Server: a bare `SELECT CONNECTION_ID()`, which pooled sessions answer with
// their session id (the id of the greeting, the one KILL takes) rather than the id of
// whichever compute connection they hold at the moment. "Bare" as MariaDB accepts it:
//
//   SELECT CONNECTION_ID ( ) [[AS] alias] [FROM DUAL] [;]
//
// any case, any spacing, comments around (not inside) the call. Anything else that
// mentions CONNECTION_ID() (an expression, a join, a processlist query) runs on the
// compute and sees the compute's thread id; the README says so.
import { isSpace, isWord, tokenize, type Token } from './sql-lexer.js';

export interface ConnectionIdQuery {
  /**
   * The column's name as the server would report it, when the proxy can write the
   * result itself: ASCII, at most 64 characters, no escapes to decode. Null otherwise
   * (then only `rewrite` may answer it).
   */
  name: string | null;
  /**
   * The statement with the call replaced by `CAST(id AS UNSIGNED)` (which the server
   * describes exactly as it describes CONNECTION_ID(): INT UNSIGNED NOT NULL, width
   * 10) and named as before: what a compute connection runs in its place, so the
   * result carries that connection's own status flags.
   */
  rewrite(id: number): string;
}

const MAX_TOKENS = 10;
/** Reserved words that may follow a select list: never a bare alias. */
const CLAUSES = new Set(['FROM', 'WHERE', 'GROUP', 'HAVING', 'ORDER', 'LIMIT', 'OFFSET', 'INTO', 'UNION', 'EXCEPT', 'INTERSECT', 'FOR', 'LOCK', 'PROCEDURE', 'WINDOW']);
const MAX_NAME = 64;

/** `sql` is a COM_QUERY's text as latin1; null unless it is a bare SELECT CONNECTION_ID(). */
export function parseConnectionIdQuery(sql: string): ConnectionIdQuery | null {
  const t = tokenize(sql, MAX_TOKENS);
  if (!t || !isWord(t[0], 'SELECT') || !isWord(t[1], 'CONNECTION_ID') || t[2]?.text !== '(' || t[3]?.text !== ')') return null;
  // Comments inside the call would end up in the server's column name: not bare.
  if (!onlySpaceBetween(sql, t[1]!, t[3]!)) return null;
  let i = 4;
  let alias: Token | null = null;
  if (isWord(t[i], 'AS')) {
    alias = t[i + 1] ?? null;
    if (!alias || !isAlias(alias)) return null;
    i += 2;
  } else if (t[i] && isAlias(t[i]!) && !(t[i]!.kind === 'word' && CLAUSES.has(t[i]!.text.toUpperCase()))) {
    alias = t[i++]!;
  }
  if (isWord(t[i], 'FROM')) {
    if (!isWord(t[i + 1], 'DUAL')) return null;
    i += 2;
  }
  if (t[i]?.kind === 'punct' && t[i]!.text === ';') i++;
  if (i !== t.length) return null;
  const call = sql.slice(t[1]!.start, t[3]!.end);
  const name = alias ? aliasName(alias) : call;
  const before = sql.slice(0, t[1]!.start);
  const after = sql.slice(t[3]!.end);
  return {
    name: name !== null && name.length <= MAX_NAME && /^[\x20-\x7e]*$/.test(name) ? name : null,
    rewrite: (id) => `${before}CAST(${id} AS UNSIGNED)${alias ? '' : ` AS \`${call.replace(/`/g, '``')}\``}${after}`,
  };
}

function isAlias(t: Token): boolean {
  return t.kind === 'word' || t.kind === 'identifier' || t.kind === 'string';
}

/** What the server names the column for an alias; null when it has escapes the proxy does not decode. */
function aliasName(t: Token): string | null {
  if (t.kind === 'word') return t.text;
  const quote = t.text[0]!;
  const inner = t.text.slice(1, -1);
  if (quote !== '`' && inner.includes('\\')) return null;
  return inner.split(quote + quote).join(quote);
}

function onlySpaceBetween(sql: string, from: Token, to: Token): boolean {
  for (let i = from.end; i < to.start; i++) {
    const c = sql.charCodeAt(i);
    if (!isSpace(c) && c !== 0x28 /* ( */) return false;
  }
  return true;
}
