// The few lexical rules of MariaDB's SQL the relays need: quoted strings and
// identifiers, the three comment forms, and executable comments (`/*!` and `/*M!`,
// whose text runs). Shared by the pin rules (a scan of whole statements) and by
// the tokenizer below (short statements the proxy answers or rewrites: KILL, a bare
// SELECT CONNECTION_ID()).
//
// Text is read as latin1: every byte that matters here is ASCII, and UTF-8
// multi-byte sequences never contain ASCII bytes.

export type TokenKind = 'word' | 'number' | 'string' | 'identifier' | 'punct';

export interface Token {
  kind: TokenKind;
  /** The token's source text (quotes included for strings and quoted identifiers). */
  text: string;
  start: number;
  end: number;
}

/**
 * The tokens of `s`, comments and whitespace skipped, the marker of an executable
 * comment and its closing `*​/` too (their text runs). Null when the text is not
 * lexically whole (an unterminated quote or comment) or has more than `max` tokens:
 * a caller that needs the whole statement then knows it does not have it.
 */
export function tokenize(s: string, max: number): Token[] | null {
  return scanTokens(s, max, false);
}

/** The first word of `s` (upper case), comments skipped, or null: for statements too long to tokenize whole. */
export function firstWord(s: string): string | null {
  const [first] = scanTokens(s, 1, true) ?? [];
  return first?.kind === 'word' ? first.text.toUpperCase() : null;
}

function scanTokens(s: string, max: number, partial: boolean): Token[] | null {
  const tokens: Token[] = [];
  const n = s.length;
  let executable = 0;
  let i = 0;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (isSpace(c)) {
      i++;
      continue;
    }
    if (tokens.length === max) return partial ? tokens : null;
    if (isWordChar(c)) {
      let j = i + 1;
      while (j < n && isWordChar(s.charCodeAt(j))) j++;
      const text = s.slice(i, j);
      tokens.push({ kind: /^[0-9]+$/.test(text) ? 'number' : 'word', text, start: i, end: j });
      i = j;
      continue;
    }
    if (c === 0x27 || c === 0x22 || c === 0x60) {
      const j = skipQuoted(s, i, c);
      if (j > n || s.charCodeAt(j - 1) !== c || j - i < 2) return null;
      tokens.push({ kind: c === 0x60 ? 'identifier' : 'string', text: s.slice(i, j), start: i, end: j });
      i = j;
      continue;
    }
    if (c === 0x23 || (c === 0x2d && s.charCodeAt(i + 1) === 0x2d && (i + 2 >= n || s.charCodeAt(i + 2) <= 0x20))) {
      i = skipLine(s, i);
      continue;
    }
    if (c === 0x2f && s.charCodeAt(i + 1) === 0x2a) {
      const bang = executableMarker(s, i);
      if (bang > 0) {
        executable++;
        i += bang;
        while (i < n && isDigit(s.charCodeAt(i))) i++;
        continue;
      }
      const end = s.indexOf('*/', i + 2);
      if (end < 0) return null;
      i = end + 2;
      continue;
    }
    if (c === 0x2a && executable > 0 && s.charCodeAt(i + 1) === 0x2f) {
      executable--;
      i += 2;
      continue;
    }
    tokens.push({ kind: 'punct', text: s[i]!, start: i, end: i + 1 });
    i++;
  }
  return executable === 0 ? tokens : null;
}

/** Length of the marker of an executable comment at `i` (`/*!` or `/*M!`), or 0. */
export function executableMarker(s: string, i: number): number {
  if (s.charCodeAt(i + 2) === 0x21) return 3;
  return s.startsWith('M!', i + 2) ? 4 : 0;
}

// The sql_mode flags that change how quotes read (stringModes), as bits.
/** A backslash in a string escapes nothing. */
export const NO_BACKSLASH_ESCAPES = 1;
/** `"` quotes an identifier, in which a backslash escapes nothing. */
export const ANSI_QUOTES = 2;

/** The bits of a session's `sql_mode` (as the server reports it) that change how its quotes read. */
export function stringModes(sqlMode: string): number {
  return (sqlMode.includes('NO_BACKSLASH_ESCAPES') ? NO_BACKSLASH_ESCAPES : 0) | (sqlMode.includes('ANSI_QUOTES') ? ANSI_QUOTES : 0);
}

/** Whether a backslash escapes inside `quote` under stringModes() `modes`. */
export function backslashEscapes(quote: number, modes: number): boolean {
  return quote !== 0x60 && (modes & (quote === 0x22 ? NO_BACKSLASH_ESCAPES | ANSI_QUOTES : NO_BACKSLASH_ESCAPES)) === 0;
}

/**
 * Past the closing quote; a doubled quote or a backslash escape does not close.
 * `escapes` false (backslashEscapes()): a backslash is a plain character.
 */
export function skipQuoted(s: string, start: number, quote: number, escapes = true): number {
  return escapes ? skipEscaped(s, start, quote) : skipUnescaped(s, start, quote);
}

function skipEscaped(s: string, start: number, quote: number): number {
  let i = start + 1;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c === 0x5c && quote !== 0x60) {
      i += 2;
      continue;
    }
    if (c === quote) {
      if (s.charCodeAt(i + 1) === quote) {
        i += 2;
        continue;
      }
      return i + 1;
    }
    i++;
  }
  return i;
}

function skipUnescaped(s: string, start: number, quote: number): number {
  let i = start + 1;
  for (;;) {
    const end = s.indexOf(String.fromCharCode(quote), i);
    if (end < 0) return s.length;
    if (s.charCodeAt(end + 1) !== quote) return end + 1;
    i = end + 2;
  }
}

/** Past the end of a `#` or `-- ` comment. */
export function skipLine(s: string, i: number): number {
  const end = s.indexOf('\n', i);
  return end < 0 ? s.length : end + 1;
}

export function isWordChar(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x5f || c === 0x24 || c >= 0x80;
}

export function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** Space, tab, newline, vertical tab, form feed, carriage return: what the server skips between tokens. */
export function isSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

/** Whether a word token is `word`, case-insensitively. */
export function isWord(t: Token | undefined, word: string): boolean {
  return t !== undefined && t.kind === 'word' && t.text.length === word.length && t.text.toUpperCase() === word;
}
