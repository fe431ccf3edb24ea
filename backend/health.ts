// Is a backend connection fit for the next client? What COM_RESET_CONNECTION does not
// undo on MariaDB 10.11 (checked against mariadbd): the current database (after `USE`)
// and the active role (after `SET ROLE`). So a reset is followed by COM_INIT_DB back to
// the key's database, and a check that database and role are what they were right after
// login; anything else and the connection is destroyed rather than repaired.
//
// Reset, restore and check go out pipelined in one write and are read back with
// sequence ids and reply kinds checked, so replies left over from a client that quit
// mid-command shift the expected pattern and fail the check.
import {
  writeComInitDb,
  writeComPing,
  writeComQuery,
  writeComResetConnection,
  type CommandReply,
} from '../protocol/index.js';
import { runCommands, type CommandTarget } from './query.js';
import { ChannelTimeoutError } from '../socket/packet-channel.js';

/** Session state a fresh login has and COM_RESET_CONNECTION does not restore. */
export interface SessionBaseline {
  database: string | null;
  role: string | null;
}

/** `timedOut`: the compute gave no answer at all within the bound (frozen, wedged), rather than a wrong one. */
export type HealthCheck = { ok: true } | { ok: false; reason: string; timedOut?: boolean };

const BASELINE_SQL = 'SELECT DATABASE(), CURRENT_ROLE()';

/** Read right after login, before the first client sees the connection. */
export async function readBaseline(target: CommandTarget, timeoutMs: number): Promise<SessionBaseline> {
  const [reply] = await runCommands(target, [writeComQuery(BASELINE_SQL)], timeoutMs);
  const row = baselineRow(reply!);
  if (!row) throw new Error(`unexpected reply to the baseline query (${describe(reply!)})`);
  return row;
}

export async function resetBackend(
  target: CommandTarget,
  database: string | null,
  baseline: SessionBaseline,
  timeoutMs: number,
): Promise<HealthCheck> {
  const commands = [writeComResetConnection()];
  if (database) commands.push(writeComInitDb(database));
  commands.push(writeComQuery(BASELINE_SQL));
  let replies: CommandReply[];
  try {
    replies = await runCommands(target, commands, timeoutMs);
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
  for (const reply of replies.slice(0, -1)) {
    if (reply.kind !== 'ok') return { ok: false, reason: `reset step answered ${describe(reply)}` };
  }
  const row = baselineRow(replies[replies.length - 1]!);
  if (!row) return { ok: false, reason: `state check answered ${describe(replies[replies.length - 1]!)}` };
  if (row.database !== baseline.database) return { ok: false, reason: 'current database differs from login' };
  if (row.role !== baseline.role) return { ok: false, reason: 'active role differs from login' };
  return { ok: true };
}

export async function pingBackend(target: CommandTarget, timeoutMs: number): Promise<HealthCheck> {
  try {
    const [reply] = await runCommands(target, [writeComPing()], timeoutMs);
    return reply!.kind === 'ok' ? { ok: true } : { ok: false, reason: `COM_PING answered ${describe(reply!)}` };
  } catch (err) {
    return { ok: false, reason: (err as Error).message, timedOut: err instanceof ChannelTimeoutError };
  }
}

function baselineRow(reply: CommandReply): SessionBaseline | null {
  if (reply.kind !== 'rows' || reply.columns.length !== 2 || reply.rows.length !== 1) return null;
  const [database, role] = reply.rows[0]!;
  return { database: database ?? null, role: role ?? null };
}

function describe(reply: CommandReply): string {
  if (reply.kind === 'error') return `error ${reply.error.code}`;
  return reply.kind === 'ok' ? 'OK' : `${reply.rows.length} rows`;
}
