// Client -> Server: the binary prepared-statement commands, as far as a proxy that
// translates statement ids needs them. Every one but COM_STMT_PREPARE names its
// statement by a 4-byte id right after the command byte; 0xffffffff means "the
// statement this connection prepared last" (MariaDB; the npm `mariadb` connector
// pipelines PREPARE and EXECUTE with it).
// https://mariadb.com/kb/en/com_stmt_execute/  https://mariadb.com/kb/en/com_stmt_bulk_execute/
//
// COM_STMT_EXECUTE: command, id(4), flags(1), iteration count(4), then for a statement
// with parameters a NULL bitmap, the new-params-bound flag(1), and when it is 1 a type
// and a flag byte per parameter, then the values. A client may send the types only on
// its first execute (libmariadb, libmysqlclient): the server keeps them with the
// statement, so an execute relayed to another connection needs them put back.
// COM_STMT_BULK_EXECUTE: command, id(4), flags(2) (SEND_TYPES_TO_SERVER = 128), then
// the types when that flag is set, then the rows.
import {
  COM_STMT_BULK_EXECUTE,
  COM_STMT_CLOSE,
  COM_STMT_EXECUTE,
  COM_STMT_FETCH,
  COM_STMT_PREPARE,
  COM_STMT_RESET,
  COM_STMT_SEND_LONG_DATA,
} from '../constants.js';
import { ProtocolError } from '../protocol-error.js';

/** The statement id MariaDB reads as "the one prepared last on this connection". */
export const LAST_PREPARED_STATEMENT = 0xffffffff;
/** COM_STMT_EXECUTE flags: open a read-only cursor. */
export const CURSOR_TYPE_READ_ONLY = 0x01;
/** COM_STMT_BULK_EXECUTE flags: the parameter types follow. */
export const BULK_SEND_TYPES = 128;

/** Whether `command` is one that names a statement by id (all but PREPARE). */
export function namesStatement(command: number): boolean {
  return (
    command === COM_STMT_EXECUTE ||
    command === COM_STMT_SEND_LONG_DATA ||
    command === COM_STMT_CLOSE ||
    command === COM_STMT_RESET ||
    command === COM_STMT_FETCH ||
    command === COM_STMT_BULK_EXECUTE
  );
}

/** Whether `command` is one of the prepared-statement commands. */
export function isStatementCommand(command: number): boolean {
  return command === COM_STMT_PREPARE || namesStatement(command);
}

/** The id a statement command names; ProtocolError if the packet is too short for one. */
export function statementIdOf(payload: Buffer): number {
  if (payload.length < 5) throw new ProtocolError(`statement command of ${payload.length} bytes has no statement id`);
  return payload.readUInt32LE(1);
}

/** Rewrites the id a statement command names, in place. */
export function setStatementId(payload: Buffer, id: number): void {
  payload.writeUInt32LE(id >>> 0, 1);
}

export function writeComStmtPrepare(sql: Buffer): Buffer {
  const payload = Buffer.allocUnsafe(1 + sql.length);
  payload[0] = COM_STMT_PREPARE;
  sql.copy(payload, 1);
  return payload;
}

export function writeComStmtClose(id: number): Buffer {
  const payload = Buffer.allocUnsafe(5);
  payload[0] = COM_STMT_CLOSE;
  payload.writeUInt32LE(id >>> 0, 1);
  return payload;
}

/**
 * Where an execute's or a bulk execute's parameter types are, and whether it carries
 * them: for a statement with `params` parameters. `at` is -1 when the packet cannot
 * carry any (no parameters); ProtocolError when it is too short for its own header.
 */
export interface ParameterTypes {
  at: number;
  /** The types are in the packet (2 bytes per parameter from `at`). */
  present: boolean;
  /** Where the flag that says so is (execute: a byte; bulk: bit 128 of the u16 at 5). */
  flagAt: number;
}

export function parameterTypesOf(payload: Buffer, params: number): ParameterTypes {
  const command = payload[0];
  if (params === 0) return { at: -1, present: false, flagAt: -1 };
  if (command === COM_STMT_BULK_EXECUTE) {
    if (payload.length < 7) throw new ProtocolError('COM_STMT_BULK_EXECUTE too short for its flags');
    const present = (payload.readUInt16LE(5) & BULK_SEND_TYPES) !== 0;
    if (present && payload.length < 7 + 2 * params) throw new ProtocolError('COM_STMT_BULK_EXECUTE too short for its types');
    return { at: 7, present, flagAt: 5 };
  }
  if (command !== COM_STMT_EXECUTE) throw new ProtocolError(`command 0x${command?.toString(16)} carries no parameter types`);
  const flagAt = 10 + ((params + 7) >> 3);
  if (payload.length <= flagAt) throw new ProtocolError('COM_STMT_EXECUTE too short for its new-params-bound flag');
  const present = payload[flagAt] === 1;
  if (present && payload.length < flagAt + 1 + 2 * params) throw new ProtocolError('COM_STMT_EXECUTE too short for its types');
  return { at: flagAt + 1, present, flagAt };
}

/** An execute or bulk execute that did not carry its types, with `types` put in (a new payload). */
export function withParameterTypes(payload: Buffer, where: ParameterTypes, types: Buffer): Buffer {
  const out = Buffer.allocUnsafe(payload.length + types.length);
  payload.copy(out, 0, 0, where.at);
  types.copy(out, where.at);
  payload.copy(out, where.at + types.length, where.at);
  if (payload[0] === COM_STMT_BULK_EXECUTE) out.writeUInt16LE(out.readUInt16LE(where.flagAt) | BULK_SEND_TYPES, where.flagAt);
  else out[where.flagAt] = 1;
  return out;
}
