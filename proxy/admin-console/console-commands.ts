// The statements the admin console knows, as a table: each names its leading words,
// how it reads what follows them, and what it answers. A statement matches the first
// entry whose words it starts with and whose argument it fits; anything else that is
// not client chatter (console-chatter.ts) gets an error listing what the console knows.
import { isWord, tokenize, type Token } from '../../relay/sql-lexer.js';
import type { ActionContext } from './console-actions.js';
import { drain, killSession, reload } from './console-actions.js';
import { answerChatter, type ChatterContext } from './console-chatter.js';
import { error, rows, type ConsoleReply } from './console-reply.js';
import { showClients } from './show-clients.js';
import { showPools } from './show-pools.js';
import { showProjects } from './show-projects.js';
import type { StatsWindow } from './show-stats.js';

/** Everything a statement may read or act on. */
export interface ConsoleContext extends ActionContext, ChatterContext {
  stats: StatsWindow;
}

interface ConsoleCommand {
  /** As an operator types it. */
  syntax: string;
  summary: string;
  /** Its leading words, upper case. */
  words: readonly string[];
  /** Its argument from the tokens after its words; null when they do not fit. Default: nothing may follow. */
  parse?(rest: Token[]): number | null;
  run(c: ConsoleContext, arg: number): ConsoleReply | Promise<ConsoleReply>;
}

const COMMANDS: readonly ConsoleCommand[] = [
  {
    syntax: 'SHOW CLIENTS',
    summary: 'client sessions: id, project, user, client, tls, mode, state and pin reason, ages, compute, bytes',
    words: ['SHOW', 'CLIENTS'],
    run: (c) => showClients(c.proxy.view.sessions.values()),
  },
  {
    syntax: 'SHOW POOLS',
    summary: 'pooled compute connections per compute and user: open, in use, idle, waiting, pins by reason',
    words: ['SHOW', 'POOLS'],
    run: (c) => {
      const { pooling } = c.proxy.view.cfg;
      return showPools(pooling.mode === 'pipe' ? undefined : pooling.pools, c.proxy.view.sessions.values());
    },
  },
  {
    syntax: 'SHOW PROJECTS',
    summary: 'projects this proxy knows: clients, last activity, cached address and its age, wakes in flight',
    words: ['SHOW', 'PROJECTS'],
    run: (c) => showProjects(c.proxy.view.sessions.values(), c.proxy.view.cfg.resolver, c.proxy.view.cfg.activity),
  },
  {
    syntax: 'SHOW STATS',
    summary: 'totals since start and per-second rates over the last minute: connections, refusals, wakes, bytes',
    words: ['SHOW', 'STATS'],
    run: (c) => c.stats.show(),
  },
  {
    syntax: 'SHOW HELP',
    summary: 'this list',
    words: ['SHOW', 'HELP'],
    run: () => help(),
  },
  {
    syntax: 'KILL <id>',
    summary: 'end the client session with that connection id; a statement it left running is stopped',
    words: ['KILL'],
    parse: connectionId,
    run: (c, id) => killSession(c, id),
  },
  {
    syntax: 'DRAIN',
    summary: 'stop accepting clients and let sessions finish (as on SIGTERM), without exiting',
    words: ['DRAIN'],
    run: (c) => drain(c),
  },
  {
    syntax: 'RELOAD',
    summary: 'load the TLS certificate and key files again',
    words: ['RELOAD'],
    run: (c) => reload(c),
  },
];

const KNOWN = COMMANDS.map((cmd) => cmd.syntax).join(', ');
/** More than any known statement has: longer text is not one of them. */
const MAX_TOKENS = 32;

/** The answer to one COM_QUERY's text. */
export async function runStatement(sql: string, c: ConsoleContext): Promise<ConsoleReply> {
  const tokens = tokenize(sql, MAX_TOKENS);
  if (tokens && tokens[tokens.length - 1]?.text === ';') tokens.pop();
  if (tokens?.length === 0) return error(1065, '42000', 'Query was empty');
  if (tokens) {
    for (const cmd of COMMANDS) {
      if (!cmd.words.every((w, i) => isWord(tokens[i], w))) continue;
      const rest = tokens.slice(cmd.words.length);
      const arg = cmd.parse ? cmd.parse(rest) : rest.length === 0 ? 0 : null;
      if (arg !== null) return cmd.run(c, arg);
    }
    const chatter = answerChatter(sql, tokens, c);
    if (chatter) return chatter;
  }
  const shown = sql.trim().replace(/\s+/g, ' ');
  return error(
    1064,
    '42000',
    `wake-proxy admin console: unknown statement '${shown.length > 60 ? `${shown.slice(0, 60)}...` : shown}'; it knows ${KNOWN}`,
  );
}

/** `[CONNECTION] <id>`: a whole number. */
function connectionId(rest: Token[]): number | null {
  const t = isWord(rest[0], 'CONNECTION') ? rest.slice(1) : rest;
  if (t.length !== 1 || t[0]!.kind !== 'number') return null;
  const id = Number(t[0]!.text);
  return Number.isSafeInteger(id) ? id : null;
}

function help(): ConsoleReply {
  return rows(
    [
      { name: 'statement', kind: 'text' },
      { name: 'what', kind: 'text' },
    ],
    COMMANDS.map((cmd) => [cmd.syntax, cmd.summary]),
  );
}
