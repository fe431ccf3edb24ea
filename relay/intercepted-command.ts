// Client -> Server: the few commands a relay does not pass on as they are, because
// the ids in them are the proxy's: KILL (as text, or COM_PROCESS_KILL) and, in the
// pooled modes, a bare SELECT CONNECTION_ID(); and the commands the proxy refuses
// (refused-commands.ts). Relays look at every command's first two bytes (mayIntercept,
// cheap: most commands are not a COM_QUERY starting with K), hold the few that might be
// one whole, and classify them here. What to do with a KILL is the proxy's to decide
// (KillHook); relays deliver the answer.
import { COM_PROCESS_KILL, COM_QUERY, type ErrPacket } from '../protocol/index.js';
import { parseConnectionIdQuery, type ConnectionIdQuery } from './connection-id-query.js';
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

/** A SELECT this long or longer is not a bare SELECT CONNECTION_ID(). */
const MAX_SELECT_LENGTH = 512;
/** A statement that starts with a space or a comment is looked at up to this length. */
const MAX_LEADING_LENGTH = 64 * 1024;

/**
 * Whether a command might be intercepted, from its command byte, the first byte
 * after it (-1 if none) and its length: such a command is held whole and classified.
 */
export function mayIntercept(command: number, first: number, length: number, pooled: boolean): boolean {
  if (command === COM_PROCESS_KILL) return true;
  if (command !== COM_QUERY) return mayRefuse(command, pooled);
  switch (first) {
    case 0x4b: // K
    case 0x6b: // k
      return true;
    case 0x53: // S
    case 0x73: // s
      return pooled && length <= MAX_SELECT_LENGTH;
    case 0x20: // space, tab, newline, carriage return
    case 0x09:
    case 0x0a:
    case 0x0d:
    case 0x2f: // /* comment */
    case 0x23: // # comment
    case 0x2d: // -- comment
      return length <= MAX_LEADING_LENGTH;
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
  if (command !== COM_QUERY || payload.length < 2) return null;
  const first = payload[1]!;
  const select = first === 0x53 || first === 0x73;
  // Most SELECTs a session mode sees are not about its id: decided without a string.
  if (select && !(pooled && mentionsConnectionId(payload))) return null;
  const sql = payload.toString('latin1', 1);
  const word = first === 0x4b || first === 0x6b ? 'KILL' : select ? 'SELECT' : firstWord(sql);
  if (word === 'KILL') {
    const kill = parseKill(sql);
    return kill ? { kind: 'kill', kill } : null;
  }
  if (word !== 'SELECT' || !pooled || !mentionsConnectionId(payload)) return null;
  const query = parseConnectionIdQuery(sql);
  return query ? { kind: 'connection_id', query } : null;
}

const NEEDLE = 'connection_id';

/** Whether the bytes hold "connection_id" in any case. */
function mentionsConnectionId(b: Buffer): boolean {
  const last = b.length - NEEDLE.length;
  outer: for (let i = 1; i <= last; i++) {
    if ((b[i]! | 0x20) !== 0x63) continue; // c or C
    for (let j = 1; j < NEEDLE.length; j++) {
      // `| 0x20` folds letters to lower case and leaves '_' (0x5f) as 0x7f: compare it apart.
      const c = b[i + j]!;
      const want = NEEDLE.charCodeAt(j);
      if (want === 0x5f ? c !== 0x5f : (c | 0x20) !== want) continue outer;
    }
    return true;
  }
  return false;
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
