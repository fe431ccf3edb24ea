// Binary prepared statements for a transaction-pooled session, without pinning: the
// client's statements are the proxy's (client-statements.ts, ids the proxy gave), and
// each is prepared on whichever compute connection the session holds when it is used
// (connection-statements.ts caches them there by text). Every statement command is
// looked at here before it goes: its id is translated in place (client -> compute), or
// the statement must first be prepared on the held connection, or the proxy answers
// it (unknown ids, a reset or a fetch with nothing on the connection), or it needs a
// connection first.
//
// What the relay does with the answer (step()'s result; details in the fields):
// - STEP_SEND: send `payload` (the packet's own, its id rewritten; or a copy with the
//   parameter types put back), expecting `expect`, the reply concerning `owner`.
// - STEP_DROP: nothing goes and nothing answers (COM_STMT_CLOSE, long data for an
//   unknown statement: the server's own answers are none).
// - STEP_ERROR / STEP_OK: answer `error` / an OK.
// - STEP_BORROW: hold a connection first.
// - STEP_PREPARE: prepare `sql` on the held connection (once no reply is pending: its
//   reply is read by the proxy); `preparing` is the client statement being prepared
//   again there, or null for the client's own COM_STMT_PREPARE.
import {
  COM_STMT_BULK_EXECUTE,
  COM_STMT_CLOSE,
  COM_STMT_EXECUTE,
  COM_STMT_FETCH,
  COM_STMT_PREPARE,
  COM_STMT_RESET,
  COM_STMT_SEND_LONG_DATA,
  CURSOR_TYPE_READ_ONLY,
  LAST_PREPARED_STATEMENT,
  SERVER_STATUS_CURSOR_EXISTS,
  parameterTypesOf,
  setStatementId,
  withParameterTypes,
  type ErrPacket,
  type PrepareReplyReader,
  type ReplyEnd,
} from '../protocol/index.js';
import type { PooledBackend } from '../pool/pooled-backend.js';
import { ClientStatements, type ClientStatement } from './client-statements.js';
import { judgeQuery } from './pin-rules.js';
import type { StoredCodeNames } from './stored-code-names.js';
import { statementsOn, type ConnectionStatement, type ConnectionStatements } from './connection-statements.js';

export const STEP_SEND = 0;
export const STEP_DROP = 1;
export const STEP_ERROR = 2;
export const STEP_OK = 3;
export const STEP_BORROW = 4;
export const STEP_PREPARE = 5;

export const EXPECT_NONE = 0;
export const EXPECT_REPLY = 1;
export const EXPECT_ROWS = 2;

/** Statements kept per compute connection unless told otherwise. */
export const DEFAULT_STATEMENTS_PER_CONNECTION = 256;

const MALFORMED: ErrPacket = { code: 1835, sqlState: '08S01', message: 'Malformed communication packet' };

export class StatementRouter {
  readonly table = new ClientStatements();
  // step()'s details, fields rather than an object per command.
  payload: Buffer = EMPTY;
  expect = EXPECT_NONE;
  owner: ClientStatement | null = null;
  error: ErrPacket = MALFORMED;
  sql: Buffer = EMPTY;
  preparing: ClientStatement | null = null;

  constructor(
    private readonly perConnection: number,
    /** The session's parse context now ('' for a session whose settings are not followed). */
    private readonly context: () => string,
    /** The compute's stored code that pins, which statements are judged by. */
    private readonly code: StoredCodeNames | null = null,
  ) {}

  /** What to do with the statement command `payload` (command byte first), holding `held`. */
  step(payload: Buffer, command: number, held: PooledBackend | null): number {
    if (command === COM_STMT_PREPARE) {
      if (!held) return STEP_BORROW;
      this.sql = payload.subarray(1);
      this.preparing = null;
      return STEP_PREPARE;
    }
    if (payload.length < 5) return this.fail(MALFORMED);
    const id = payload.readUInt32LE(1);
    const s = id === LAST_PREPARED_STATEMENT ? this.table.last : this.table.get(id);
    if (command === COM_STMT_CLOSE) {
      if (s) this.table.close(s);
      return STEP_DROP;
    }
    if (!s) return command === COM_STMT_SEND_LONG_DATA ? STEP_DROP : this.fail(unknownStatement(id, command));
    // What needs nothing on the held connection, or nothing held at all.
    const on = held ? this.on(held).get(s.key, s.sentTo) : undefined;
    if (command === COM_STMT_RESET && !on) return this.resetHere(s);
    if (command === COM_STMT_FETCH && !on) return this.fail(noCursor(id));
    if (!held) return STEP_BORROW;
    if (!on) {
      this.sql = s.sql;
      this.preparing = s;
      return STEP_PREPARE;
    }
    return this.send(payload, command, s, on);
  }

  /** The held connection's statements. */
  on(held: PooledBackend): ConnectionStatements {
    return statementsOn(held, this.perConnection);
  }

  /**
   * The client's own COM_STMT_PREPARE answered OK on `held`: its new statement (the
   * compute's id in the reply becomes its id), and compute ids to close (evicted, or
   * this one when the text was prepared there already).
   */
  clientPrepared(reader: PrepareReplyReader, held: PooledBackend): { statement: ClientStatement; close: number[] } {
    const ok = reader.ok!;
    const sql = Buffer.from(this.sql);
    const context = this.context();
    const key = statementKey(sql, context);
    const statement = this.table.add({
      sql,
      key,
      context,
      verdict: judgeQuery(sql, false, this.code),
      codeGeneration: this.code?.generation ?? 0,
      params: ok.params,
      columns: ok.columns,
    });
    const { close } = this.on(held).add(key, ok.statementId);
    return { statement, close };
  }

  /**
   * `s` prepared again on `held`: null when it takes the parameters the client was told
   * (and is cached there now), else the error that answers the client's command. Its
   * columns may differ (the table changed): so they would on the client's own connection,
   * where the server prepares a statement again by itself, and either way the execute's
   * result carries the new column definitions (transaction pooling never lets a client
   * cache result metadata, see proxy/greeting-profile.ts). Ids to close go to `close`.
   */
  reprepared(s: ClientStatement, reader: PrepareReplyReader, held: PooledBackend, close: number[]): ErrPacket | null {
    const ok = reader.ok!;
    if (ok.params !== s.params) {
      close.push(ok.statementId);
      return {
        code: 1105,
        sqlState: 'HY000',
        message:
          `wake-proxy: prepared statement ${s.id} now takes ${ok.params} parameters (prepared with ${s.params}); prepare it again`,
      };
    }
    for (const id of this.on(held).add(s.key, ok.statementId).close) close.push(id);
    return null;
  }

  /**
   * `s` is to be prepared again on the held connection, whose settings are the session's
   * now: the error that answers instead when the session's parse context moved since the
   * client prepared it (a USE, SET NAMES or sql_mode since), else null. Prepared there,
   * its text would name other tables or mean something else; the server keeps a
   * statement's own context, the proxy cannot give it back on another connection.
   */
  contextMoved(s: ClientStatement): ErrPacket | null {
    if (s.context === this.context()) return null;
    return {
      code: 1615,
      sqlState: 'HY000',
      message: `wake-proxy: prepared statement ${s.id} was prepared under another default database, character set or sql_mode than the session has now; prepare it again`,
    };
  }

  /** A reply to a command of `s` ended: what it says of its cursor and long data. */
  replied(s: ClientStatement, reply: ReplyEnd): void {
    const cursor = (reply.statusFlags & SERVER_STATUS_CURSOR_EXISTS) !== 0;
    if (!reply.failed && cursor !== s.cursor) this.table.setCursor(s, cursor, s.sentTo);
  }

  private send(payload: Buffer, command: number, s: ClientStatement, on: ConnectionStatement): number {
    s.sentTo = on;
    setStatementId(payload, on.id);
    this.payload = payload;
    this.owner = s;
    this.expect = EXPECT_REPLY;
    switch (command) {
      case COM_STMT_SEND_LONG_DATA:
        this.expect = EXPECT_NONE;
        this.table.setLongData(s, true, on);
        break;
      case COM_STMT_FETCH:
        this.expect = EXPECT_ROWS;
        break;
      case COM_STMT_RESET:
        // The server forgets the long data and closes the cursor.
        this.table.setLongData(s, false, null);
        this.table.setCursor(s, false, null);
        break;
      case COM_STMT_EXECUTE:
      case COM_STMT_BULK_EXECUTE:
        this.payload = this.typed(payload, s, on);
        // An execute consumes the long data; whether it opens a cursor its reply says.
        if (s.longData) this.table.setLongData(s, false, null);
        if (s.cursor && command === COM_STMT_EXECUTE && payload.length > 5 && (payload[5]! & CURSOR_TYPE_READ_ONLY) === 0) {
          this.table.setCursor(s, false, null);
        }
        break;
    }
    return STEP_SEND;
  }

  /**
   * An execute as the connection's statement needs it: the types the client sent once
   * (on another connection, maybe) put back when this statement holds others, or none.
   */
  private typed(payload: Buffer, s: ClientStatement, on: ConnectionStatement): Buffer {
    if (s.params === 0) return payload;
    const where = parameterTypesOf(payload, s.params);
    if (where.present) {
      const end = where.at + 2 * s.params;
      if (!sameBytes(s.types, payload, where.at, end)) s.types = Buffer.from(payload.subarray(where.at, end));
      on.types = s.types;
      return payload;
    }
    if (s.types === null || on.types === s.types || (on.types !== null && on.types.equals(s.types))) return payload;
    on.types = s.types;
    return withParameterTypes(payload, where, s.types);
  }

  /** COM_STMT_RESET for a statement the held connection (if any) does not have: nothing to reset. */
  private resetHere(s: ClientStatement): number {
    this.table.setLongData(s, false, null);
    this.table.setCursor(s, false, null);
    return STEP_OK;
  }

  private fail(error: ErrPacket): number {
    this.error = error;
    return STEP_ERROR;
  }
}

/** `types` holds payload[at, end): a few bytes, so a loop (Buffer#compare costs a native call and its checks per execute). */
function sameBytes(types: Buffer | null, payload: Buffer, at: number, end: number): boolean {
  if (types === null || types.length !== end - at) return false;
  for (let i = 0; i < types.length; i++) if (types[i] !== payload[at + i]) return false;
  return true;
}

/** The server's answer to a command naming a statement it does not have. */
function unknownStatement(id: number, command: number): ErrPacket {
  const where =
    command === COM_STMT_FETCH
      ? 'mysqld_stmt_fetch'
      : command === COM_STMT_RESET
        ? 'mysqld_stmt_reset'
        : command === COM_STMT_BULK_EXECUTE
          ? 'mysqld_stmt_bulk_execute'
          : 'mysqld_stmt_execute';
  return { code: 1243, sqlState: 'HY000', message: `Unknown prepared statement handler (${id}) given to ${where}` };
}

function noCursor(id: number): ErrPacket {
  return { code: 1421, sqlState: 'HY000', message: `The statement (${id}) has no open cursor` };
}

/**
 * What connections cache a statement by: its text and the parse context it was prepared
 * under (the default database, character sets and sql_mode, which transaction pooling
 * replays per client rather than pinning), so clients in different databases never
 * share a statement of the same text.
 */
export function statementKey(sql: Buffer, context: string): string {
  return context + '\0\0' + sql.toString('latin1');
}

const EMPTY = Buffer.alloc(0);
