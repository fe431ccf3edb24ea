// Client -> Server: the few commands a relay does not pass on as they are, because
// the ids in them are the proxy's: KILL (as text, or COM_PROCESS_KILL) and, in the
// pooled modes, a bare SELECT CONNECTION_ID() and the statements that would see a
// compute connection's id (id-uses.ts, refused); and the commands the proxy refuses
// (refused-commands.ts). Relays look at every command's first two bytes and length
// (mayIntercept), hold the ones that might be one whole, and classify them here: in
// pipe mode only what may start with KILL; pooled, every COM_QUERY and
// COM_STMT_PREPARE, of which a byte test (mentionsIds) lets most go on unparsed. What
// to do with a KILL is the proxy's to decide (KillHook); relays deliver the answer.
import { COM_PROCESS_KILL, COM_QUERY, COM_STMT_PREPARE, type ErrPacket } from '../protocol/index.js';
import { parseConnectionIdQuery, type ConnectionIdQuery } from './connection-id-query.js';
import { idUseIn, mentionsIds, prepareRefusal } from './id-uses.js';
import { parseKill, type KillScope, type KillStatement } from './kill-statement.js';
import { firstWord } from './sql-lexer.js';
import { mayRefuse, refusalOf, type Refusal } from './refused-commands.js';

export type { KillScope, KillStatement } from './kill-statement.js';
export type { ConnectionIdQuery } from './connection-id-query.js';

export type Intercepted = { kind: 'kill'; kill: KillStatement } | { kind: 'connection_id'; query: ConnectionIdQuery } | Refusal;

/** What a session answers a KILL with. */
export type KillAction =
  /** Not the proxy's business: the command goes on untouched. */
  | { kind: 'pass' }
  /** Run this statement on the session's compute connection instead; its reply is the answer. */
  | { kind: 'send'; sql: string }
  /** The session's own id: `sql` on its compute connection, or, holding none, the server's own answer (1317; 1927 and the end). */
  | { kind: 'self'; scope: KillScope; sql: string }
  /** Done without the compute: answer OK, as the server answers a KILL. */
  | { kind: 'ok' }
  | { kind: 'error'; error: ErrPacket };

/** The proxy's side of KILL, per session. */
export interface KillHook {
  kill(statement: KillStatement): KillAction | Promise<KillAction>;
}

/**
 * A pooled streaming relay (session mode) holds a COM_QUERY or COM_STMT_PREPARE this
 * long whole to read it; a longer one only when it may start with KILL (a K, or
 * spaces and comments first). A relay that has every command whole anyway
 * (transaction mode) reads them all.
 */
const MAX_HELD_LENGTH = 64 * 1024;

/**
 * Whether a command might be intercepted, from its command byte, the first byte after
 * it (-1 if none) and its length: such a command is held whole and classified.
 * `whole`: the relay has the command whole anyway, so length does not matter.
 */
export function mayIntercept(command: number, first: number, length: number, pooled: boolean, whole = false): boolean {
  if (command === COM_PROCESS_KILL) return true;
  if (command === COM_STMT_PREPARE) return pooled && (whole || length <= MAX_HELD_LENGTH);
  if (command !== COM_QUERY) return mayRefuse(command, pooled);
  if (pooled && (whole || length <= MAX_HELD_LENGTH)) return true;
  if (first === 0x4b || first === 0x6b) return true; // K, k
  return spaceOrComment(first) && (pooled || length <= MAX_HELD_LENGTH);
}

/** Whether a statement's first byte is a space or starts a comment: its first word is further on. */
function spaceOrComment(first: number): boolean {
  switch (first) {
    case 0x20: // space, tab, newline, carriage return
    case 0x09:
    case 0x0a:
    case 0x0d:
    case 0x2f: // /* comment */
    case 0x23: // # comment
    case 0x2d: // -- comment
      return true;
    default:
      return false;
  }
}

/** A whole command (command byte first): what it is, if the proxy answers it; null to pass it on. */
export function interceptCommand(payload: Buffer, pooled: boolean): Intercepted | null {
  const command = payload[0];
  if (command !== COM_QUERY) {
    const refused = refusalOf(payload, pooled);
    if (refused) return refused;
  }
  if (command === COM_PROCESS_KILL) {
    // COM_PROCESS_KILL: a 4-byte connection id, KILL CONNECTION's old form; the server reads those 4 and ignores what follows.
    return { kind: 'kill', kill: { kind: 'thread', scope: 'connection', hardness: null, target: String(payload.readUInt32LE(1)) } };
  }
  if (command === COM_STMT_PREPARE) return pooled ? refusal(prepareRefusal(payload)) : null;
  if (command !== COM_QUERY || payload.length < 2) return null;
  const first = payload[1]!;
  const k = first === 0x4b || first === 0x6b;
  // Pooled, most statements name no id: decided by a byte test, without a string.
  if (pooled ? !mentionsIds(payload, 1) : !k && !spaceOrComment(first)) return null;
  const sql = payload.toString('latin1', 1);
  const word = k ? 'KILL' : firstWord(sql);
  if (word === 'KILL') {
    const kill = parseKill(sql);
    if (kill) return { kind: 'kill', kill };
  }
  if (!pooled) return null;
  if (word === 'SELECT') {
    const query = parseConnectionIdQuery(sql);
    if (query) return { kind: 'connection_id', query };
  }
  return refusal(idUseIn(sql, false));
}

function refusal(error: ErrPacket | null): Intercepted | null {
  return error ? { kind: 'refuse', error } : null;
}

/**
 * An answer as a statement whose reply is that answer, for a relay that must not write
 * a reply itself (it holds a compute connection whose status flags it does not know,
 * or replies to earlier commands may still be on their way): `DO 0` answers OK with
 * the connection's status, SIGNAL any error without touching a transaction.
 */
export function answerStatement(a: Extract<KillAction, { kind: 'ok' | 'error' }>): string {
  if (a.kind === 'ok') return 'DO 0';
  const text = a.error.message.replace(/[\\']/g, (c) => `\\${c}`);
  return `SIGNAL SQLSTATE '${a.error.sqlState}' SET MYSQL_ERRNO = ${a.error.code}, MESSAGE_TEXT = '${text}'`;
}

/** A COM_QUERY payload whose reply is `error`, in order, with the connection's own status: a refused command's stand-in. */
export function errorStandIn(error: ErrPacket): Buffer {
  return statementPayload(answerStatement({ kind: 'error', error }));
}

/**
 * The COM_QUERY payload of a statement the proxy sends in a client's stead. Its text is
 * latin1, like the text it came from: a rewrite keeps the client's bytes as they were.
 */
export function statementPayload(sql: string): Buffer {
  const payload = Buffer.allocUnsafe(1 + sql.length);
  payload[0] = COM_QUERY;
  payload.write(sql, 1, 'latin1');
  return payload;
}

/** What a server answers a session that kills its own query (KILL QUERY CONNECTION_ID()). */
export const QUERY_INTERRUPTED: ErrPacket = { code: 1317, sqlState: '70100', message: 'Query execution was interrupted' };
/** ... and its own connection, before it closes it. */
export const CONNECTION_KILLED: ErrPacket = { code: 1927, sqlState: '70100', message: 'Connection was killed' };
