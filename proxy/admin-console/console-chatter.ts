// What clients send on their own around the statements a person types: the mariadb
// command line asks `select @@version_comment limit 1` when it starts and `select
// DATABASE(), USER() limit 1` for its `status`; connectors send `SET NAMES ...` and
// read a few system variables. The console keeps no session settings, so a SET is
// an OK, and a SELECT of known variables and functions (and nothing else) answers
// as a server would, its columns named as written.
import type { Token } from '../../relay/sql-lexer.js';
import { isWord } from '../../relay/sql-lexer.js';
import { error, ok, rows, type Cell, type ConsoleReply } from './console-reply.js';

/** Who is asking: what USER() and CONNECTION_ID() answer. */
export interface ChatterContext {
  user: string;
  clientHost: string;
  connectionId: number;
}

export const CONSOLE_VERSION_COMMENT = 'wake-proxy admin console (SHOW HELP lists its statements)';

const VARIABLES: Readonly<Record<string, string>> = {
  version_comment: CONSOLE_VERSION_COMMENT,
  version: '10.11.0-wake-proxy-admin-console',
  max_allowed_packet: String(64 * 1024),
  autocommit: '1',
  character_set_client: 'utf8mb4',
  character_set_connection: 'utf8mb4',
  character_set_results: 'utf8mb4',
  collation_connection: 'utf8mb4_general_ci',
  sql_mode: '',
  time_zone: 'SYSTEM',
  lower_case_table_names: '0',
  interactive_timeout: '28800',
  wait_timeout: '28800',
};

const FUNCTIONS: Readonly<Record<string, (c: ChatterContext) => Cell>> = {
  DATABASE: () => null,
  SCHEMA: () => null,
  USER: (c) => `${c.user}@${c.clientHost}`,
  SESSION_USER: (c) => `${c.user}@${c.clientHost}`,
  SYSTEM_USER: (c) => `${c.user}@${c.clientHost}`,
  CURRENT_USER: (c) => `${c.user}@%`,
  VERSION: () => VARIABLES.version!,
  CONNECTION_ID: (c) => String(c.connectionId),
};

/** The answer to client chatter, or null when `tokens` (no trailing `;`) is not chatter. */
export function answerChatter(sql: string, tokens: Token[], c: ChatterContext): ConsoleReply | null {
  if (isWord(tokens[0], 'SET')) return ok();
  if (!isWord(tokens[0], 'SELECT')) return null;
  let end = tokens.length;
  // `LIMIT n` changes nothing for one row.
  if (end >= 3 && isWord(tokens[end - 2], 'LIMIT') && tokens[end - 1]!.kind === 'number') end -= 2;
  const names: string[] = [];
  const values: Cell[] = [];
  let i = 1;
  while (i < end) {
    const item = selectItem(tokens, i, end, c);
    if (!item) return null;
    if (item.kind === 'unknown_variable') return error(1193, 'HY000', `Unknown system variable '${item.name}'`);
    names.push(sql.slice(tokens[i]!.start, tokens[item.next - 1]!.end));
    values.push(item.value);
    i = item.next;
    if (i < end) {
      if (tokens[i]!.text !== ',') return null;
      i++;
      if (i === end) return null;
    }
  }
  if (names.length === 0) return null;
  return rows(names.map((name) => ({ name, kind: 'text' as const })), [values]);
}

type Item = { kind: 'value'; value: Cell; next: number } | { kind: 'unknown_variable'; name: string; next: number };

/** `@@[session.|global.|local.]name` or `NAME()` at `i`. */
function selectItem(t: Token[], i: number, end: number, c: ChatterContext): Item | null {
  if (t[i]?.text === '@' && t[i + 1]?.text === '@' && i + 2 < end && t[i + 2]!.kind === 'word') {
    let at = i + 2;
    if (t[at + 1]?.text === '.' && at + 2 < end && ['SESSION', 'GLOBAL', 'LOCAL'].includes(t[at]!.text.toUpperCase())) at += 2;
    const name = t[at]!.text.toLowerCase();
    const value = Object.hasOwn(VARIABLES, name) ? VARIABLES[name]! : undefined;
    return value === undefined ? { kind: 'unknown_variable', name, next: at + 1 } : { kind: 'value', value, next: at + 1 };
  }
  const word = t[i];
  if (word?.kind === 'word' && t[i + 1]?.text === '(' && t[i + 2]?.text === ')' && i + 2 < end) {
    const name = word.text.toUpperCase();
    const fn = Object.hasOwn(FUNCTIONS, name) ? FUNCTIONS[name] : undefined;
    return fn ? { kind: 'value', value: fn(c), next: i + 3 } : null;
  }
  return null;
}
