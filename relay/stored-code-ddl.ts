// Transaction pooling: stored code made through this proxy counts at once. A CREATE or
// ALTER of a function, procedure, package, trigger, view or table whose text uses a
// hazard word (GET_LOCK, NEXTVAL, SETVAL, NEXT VALUE FOR), mentions a name already
// known to pin or CALLs a procedure known to, makes its name pin too (a trigger's: its
// table's; a procedure's: what CALLs it), before the statement even runs, so the next
// statement calling it from any session of the compute pins.
// Stored code made elsewhere (another proxy, dynamic SQL) reaches the names with the
// compute's next read (stored-code-names.ts).
//
// pin-rules.ts calls this only for text with a statement starting with CREATE or
// ALTER: other statements cost nothing here.
import { isWord, tokenize, type Token } from './sql-lexer.js';
import { StoredCodeNames } from './stored-code-names.js';

/** What a definition's name is for: statements name these to run it. */
const KINDS = new Set(['FUNCTION', 'PROCEDURE', 'PACKAGE', 'TRIGGER', 'VIEW', 'TABLE']);
/** Words that use a hazard themselves (as in accounts/stored-code.ts). */
const HAZARDS = new Set(['GET_LOCK', 'NEXTVAL', 'SETVAL']);
/** Tokens a definition may hold at most (a body of a few hundred kilobytes): beyond, nothing is learned. */
const MAX_TOKENS = 200_000;
/** How far into the statement its kind may come (OR REPLACE, DEFINER = ..., ALGORITHM = ..., SQL SECURITY ...). */
const MAX_PREAMBLE = 24;

/** A statement of `text` (latin1) starts with CREATE or ALTER: learn the names defined whose text pins. */
export function learnDefinition(text: string, code: StoredCodeNames): void {
  const tokens = tokenize(text, MAX_TOKENS);
  if (!tokens) return; // not lexically whole: the server refuses it too
  for (let i = 0; i < tokens.length; i++) {
    const starts = i === 0 || tokens[i - 1]!.text === ';';
    if (starts && (isWord(tokens[i], 'CREATE') || isWord(tokens[i], 'ALTER'))) learnOne(tokens, i, code);
  }
}

/** The definition whose first token is at `start`. */
function learnOne(tokens: Token[], start: number, code: StoredCodeNames): void {
  const at = kindAt(tokens, start);
  if (at < 0) return;
  let i = at + 1;
  if (isWord(tokens[i], 'BODY')) i++; // PACKAGE BODY
  if (isWord(tokens[i], 'IF')) i += 3; // IF NOT EXISTS
  let name = qualifiedName(tokens, i);
  if (name === null) return;
  i = name.next;
  if (isWord(tokens[at], 'TRIGGER')) {
    // CREATE TRIGGER t BEFORE INSERT ON tbl ...: statements name the table.
    while (i < tokens.length && !isWord(tokens[i], 'ON')) i++;
    name = qualifiedName(tokens, i + 1);
    if (name === null) return;
    i = name.next;
  }
  if (pins(tokens, i, code)) code.learn(StoredCodeNames.fromStatement(name.name), isWord(tokens[at], 'PROCEDURE'));
}

/** Where the definition's kind word is, or -1 for any other statement (CREATE USER, INDEX, DATABASE, ...). */
function kindAt(tokens: Token[], start: number): number {
  const end = Math.min(tokens.length, start + MAX_PREAMBLE);
  for (let i = start + 1; i < end; i++) {
    const t = tokens[i]!;
    if (t.text === ';') return -1;
    // DEFINER = name: a user name is no kind.
    if (t.kind !== 'word' || tokens[i - 1]!.text === '=') continue;
    const word = t.text.toUpperCase();
    if (KINDS.has(word)) return i;
    if (word === 'AS' || word === 'SELECT') return -1;
  }
  return -1;
}

/** The last part of `db.name` at `i` (quotes taken off), and where it ends. */
function qualifiedName(tokens: Token[], i: number): { name: string; next: number } | null {
  let name: string | null = null;
  for (;;) {
    const t = tokens[i];
    if (t === undefined || (t.kind !== 'word' && t.kind !== 'identifier')) return name === null ? null : { name, next: i };
    name = unquoted(t);
    if (tokens[i + 1]?.text !== '.') return { name, next: i + 1 };
    i += 2;
  }
}

/** Whether the definition's text from `i` on uses a hazard word or mentions a name known to pin. */
function pins(tokens: Token[], i: number, code: StoredCodeNames): boolean {
  for (let previous = ''; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.kind === 'identifier') {
      if (code.matches(unquoted(t))) return true;
      previous = '';
      continue;
    }
    if (t.kind !== 'word') continue;
    const word = t.text.toUpperCase();
    if (HAZARDS.has(word) || (word === 'VALUE' && previous === 'NEXT') || code.matches(t.text)) return true;
    if (word === 'CALL') {
      const called = qualifiedName(tokens, i + 1);
      if (called && code.callsHazard(StoredCodeNames.fromStatement(called.name))) return true;
    }
    previous = word;
  }
  return false;
}

function unquoted(t: Token): string {
  return t.kind === 'identifier' ? t.text.slice(1, -1).replaceAll('``', '`') : t.text;
}
