// What an intercepted command (intercepted-command.ts) turns into, for a relay. A
// relay that streams, or holds a compute connection, must not write replies itself:
// the compute's replies to earlier commands may still be on their way, and only the
// compute knows its connection's status flags. So every answer is then a statement
// the compute runs in the command's place (`DO 0` for an OK, SIGNAL for an error, a
// rewritten KILL or SELECT). A transaction-pooled session that holds no compute
// connection writes the reply itself (no wake; its status is known: autocommit on,
// no transaction), with sequence ids following the command's.
import {
  BINARY_COLLATION,
  BINARY_FLAG,
  CLIENT_PROTOCOL_41,
  MYSQL_TYPE_LONG,
  NOT_NULL_FLAG,
  SERVER_STATUS_ANSI_QUOTES,
  SERVER_STATUS_AUTOCOMMIT,
  SERVER_STATUS_NO_BACKSLASH_ESCAPES,
  UNSIGNED_FLAG,
  framePacket,
  writeErrPacket,
  writeOkPacket,
  writeTextResultSet,
  type ErrPacket,
} from '../protocol/index.js';
import {
  CONNECTION_KILLED,
  QUERY_INTERRUPTED,
  answerStatement,
  statementPayload,
  type ConnectionIdQuery,
  type KillAction,
} from './intercepted-command.js';
import type { Refusal } from './refused-commands.js';

/** What a held command becomes. */
export type Disposal =
  /** It goes on as it came. */
  | { kind: 'pass' }
  /** This command (a COM_QUERY payload) goes in its place. */
  | { kind: 'replace'; payload: Buffer }
  /** The relay writes this reply; `end`: and ends the session after it. */
  | { kind: 'reply'; bytes: Buffer; end: boolean };

/** What a relay that may write a reply itself knows about the command and its connection. */
export interface ReplyContext {
  capabilities: number;
  mariadbCapabilities: number;
  /** The status of a session between transactions (idleStatus). */
  statusFlags: number;
  /** The sequence id of the command's last packet. */
  sequenceId: number;
}

/** `reply`: the relay may write the reply itself; null: the compute must answer. */
export function settleKill(a: KillAction, reply: ReplyContext | null): Disposal {
  if (a.kind === 'pass') return { kind: 'pass' };
  if (a.kind === 'send') return replace(a.sql);
  if (!reply) return replace(a.kind === 'self' ? a.sql : answerStatement(a));
  if (a.kind === 'ok') return { kind: 'reply', bytes: okReply(reply), end: false };
  if (a.kind === 'error') return { kind: 'reply', bytes: errReply(a.error, reply.sequenceId), end: false };
  // The session's own id: what the server answers a session that kills its own query, or itself.
  if (a.scope === 'query') return { kind: 'reply', bytes: errReply(QUERY_INTERRUPTED, reply.sequenceId), end: false };
  return { kind: 'reply', bytes: errReply(CONNECTION_KILLED, reply.sequenceId), end: true };
}

/** A refused command (refused-commands.ts): its error, written here or as a statement for the compute; or the statement that stands in for it. */
export function settleRefusal(r: Refusal, reply: ReplyContext | null): Disposal {
  if (r.kind === 'statement') return replace(r.sql);
  return settleKill({ kind: 'error', error: r.error }, reply);
}

/** A bare SELECT CONNECTION_ID(): the session's id, written here or as a statement for the compute. */
export function settleConnectionId(query: ConnectionIdQuery, sessionId: number, reply: ReplyContext | null): Disposal {
  if (!reply || query.name === null) return replace(query.rewrite(sessionId));
  return { kind: 'reply', bytes: connectionIdReply(query.name, sessionId, reply), end: false };
}

/** The status of a session between transactions: autocommit, and what sql_mode shows in every status. */
export function idleStatus(lastStatus: number): number {
  return SERVER_STATUS_AUTOCOMMIT | (lastStatus & (SERVER_STATUS_NO_BACKSLASH_ESCAPES | SERVER_STATUS_ANSI_QUOTES));
}

/** The OK a session holding no backend answers COM_PING and COM_RESET_CONNECTION with, one per capability set. */
const idleOks = new Map<number, Buffer>();
export function idleOkPayload(capabilities: number): Buffer {
  let ok = idleOks.get(capabilities);
  if (!ok) {
    ok = writeOkPacket({ affectedRows: 0, lastInsertId: 0, statusFlags: SERVER_STATUS_AUTOCOMMIT, warnings: 0, info: '' }, capabilities);
    idleOks.set(capabilities, ok);
  }
  return ok;
}

function replace(sql: string): Disposal {
  return { kind: 'replace', payload: statementPayload(sql) };
}

function okReply(r: ReplyContext): Buffer {
  const ok = writeOkPacket({ affectedRows: 0, lastInsertId: 0, statusFlags: r.statusFlags, warnings: 0, info: '' }, r.capabilities);
  return framePacket(ok, (r.sequenceId + 1) & 0xff);
}

function errReply(error: ErrPacket, sequenceId: number): Buffer {
  return framePacket(writeErrPacket(error, CLIENT_PROTOCOL_41), (sequenceId + 1) & 0xff);
}

/** SELECT CONNECTION_ID()'s result as mariadbd writes it (INT UNSIGNED NOT NULL, width 10), named `name`. */
function connectionIdReply(name: string, id: number, r: ReplyContext): Buffer {
  const payloads = writeTextResultSet(
    {
      columns: [{ name, charset: BINARY_COLLATION, length: 10, type: MYSQL_TYPE_LONG, flags: NOT_NULL_FLAG | UNSIGNED_FLAG | BINARY_FLAG, decimals: 0 }],
      rows: [[String(id)]],
      statusFlags: r.statusFlags,
      warnings: 0,
    },
    r.capabilities,
    r.mariadbCapabilities,
  );
  return Buffer.concat(payloads.map((p, i) => framePacket(p, (r.sequenceId + 1 + i) & 0xff)));
}
