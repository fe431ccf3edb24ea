// Is a backend connection fit for the next client? What COM_RESET_CONNECTION does not
// undo on MariaDB 10.11 (checked against mariadbd): the current database (after `USE`)
// and the active role (after `SET ROLE`). So a reset is followed by COM_INIT_DB back to
// the key's database and by a check that database and role are what they were right
// after login; anything else and the connection is destroyed rather than repaired.
//
// A login's default role the account has lost since is found by the check too (the
// session keeps it active; a fresh login would have none). A login also sets the
// account's MAX_STATEMENT_TIME, which the reset takes back to the global value: known
// from the accounts read (the pool key), it is set again after each reset, as the client
// flags' settings are.
//
// The role is read, never set back: `SET ROLE` (NONE included) reloads the account's
// current global privileges into the session (checked against mariadbd 10.11), while a
// pooled connection must keep those of its login, which its key's account version
// stands for. Set back at each reset, a grant made while the connection was lent and
// revoked later (the account's row, and so its version, as before) would have reached
// the next client judged by that version.
//
// Reset, restore and check go out pipelined in one write and are read back with
// sequence ids and reply kinds checked, so replies left over from a client that quit
// mid-command shift the expected pattern and fail the check. A connection's replies
// that passed are kept, and the next reset's are compared with them byte for byte
// before anything is parsed: no packet cut, no reply object, no channel (about 16 µs of
// the proxy's CPU a session-pooled connection, of some 30 that its reset costs the proxy).
import {
  readSessionState,
  trackerView,
  type TrackerView,
  CLIENT_IGNORE_SPACE,
  CLIENT_INTERACTIVE,
  writeComInitDb,
  writeComPing,
  writeComQuery,
  writeComResetConnection,
  type CommandReply,
} from '../protocol/index.js';
import { SAME_REPLIES, frameCommands, runCommands, sendExpecting, type CommandTarget, type FramedCommands } from './query.js';
import { SETTINGS_SELECT, TRACKERS_SELECT, TRACKING_ON, UNKNOWN_COLLATION, replayedIndex, reportBit, settleReport, settingsFromRow, type SessionSettings } from './session-settings.js';
import { ChannelTimeoutError } from '../socket/packet-channel.js';

/** Session state a fresh login has and COM_RESET_CONNECTION does not restore. */
export interface SessionBaseline {
  database: string | null;
  role: string | null;
  /** A tracked connection's replayed settings (transaction pooling): its login values. */
  settings?: SessionSettings;
  /**
   * A tracked connection's: the trackers a login gets (the compute's globals, read at
   * login), what a client that negotiated CLIENT_SESSION_TRACK is told of its statements.
   */
  trackers?: TrackerView;
  /**
   * The compute's init_connect as it stood at login, when the server ran it for this
   * user (no CONNECTION ADMIN or SUPER); null otherwise. A new client on a reused
   * connection has it run again (runInitConnect), where a login would.
   */
  initConnect?: string | null;
  /**
   * An untracked connection's: the bytes of its last reset's replies that passed every
   * check. The same bytes again pass again (the verdict depends on nothing else), so
   * they are compared, not parsed; any other reply is read and judged in full.
   */
  resetReplies?: Buffer;
  /** Its reset's commands (resetBatch), found at its first reset. */
  resetBatch?: ResetBatch;
  /** The account's MAX_STATEMENT_TIME (seconds, as accounts/global-priv.ts writes it), which a login sets; null when it has none. */
  statementTime?: string | null;
}

/** `timedOut`: the compute gave no answer at all within the bound (frozen, wedged), rather than a wrong one. */
export type HealthCheck = { ok: true; settings?: SessionSettings } | { ok: false; reason: string; timedOut?: boolean };

/**
 * init_connect when the server runs it for the logged-in account, else NULL: accounts with
 * SUPER or CONNECTION ADMIN (granted to the account itself, not a role) skip it.
 */
const INIT_CONNECT_SQL =
  "IF(@@GLOBAL.init_connect = '' OR EXISTS(SELECT 1 FROM information_schema.USER_PRIVILEGES WHERE PRIVILEGE_TYPE IN ('SUPER', 'CONNECTION ADMIN') " +
  "AND GRANTEE = CONCAT('''', REPLACE(LEFT(CURRENT_USER(), LENGTH(CURRENT_USER()) - LOCATE('@', REVERSE(CURRENT_USER()))), '''', ''''''), " +
  "'''@''', SUBSTRING_INDEX(CURRENT_USER(), '@', -1), '''')), NULL, @@GLOBAL.init_connect)";
const BASELINE_SQL = `SELECT DATABASE(), CURRENT_ROLE(), ${INIT_CONNECT_SQL}`;
/**
 * After COM_RESET_CONNECTION, MariaDB 10.11 reads @@profiling as 0 but goes on recording
 * statements, and keeps the history: a connection whose client turned profiling on
 * would show its statements, and the pool's, to the next client. Its history (SHOW
 * PROFILES is not recorded itself) is empty unless that happened; then it is destroyed.
 */
const PROFILES_SQL = 'SHOW PROFILES';
/** A tracked connection's: the trackers' settings are session variables, so they go on after every login and reset. */
const TRACKED_BASELINE_SQL = `SELECT DATABASE(), CURRENT_ROLE(), ${INIT_CONNECT_SQL}, ${TRACKERS_SELECT}, ${SETTINGS_SELECT}`;
/**
 * After a reset: what must be as it was at login. Not init_connect, which is kept from
 * login (a borrower runs it again from there): its information_schema lookup was most
 * of what a reset cost the compute (about 65 of 110 µs of CPU per reset).
 */
const TRACKED_CHECK_SQL = `SELECT DATABASE(), CURRENT_ROLE(), ${SETTINGS_SELECT}`;
/** An untracked connection's check after a reset. */
const CHECK_SQL = 'SELECT DATABASE(), CURRENT_ROLE()';
/**
 * Added to the check where the login activated a default role: no row once the account
 * lost that role, which the session keeps active (a fresh login would have none).
 */
const ROLE_STILL_GRANTED = ' FROM DUAL WHERE EXISTS (SELECT 1 FROM information_schema.APPLICABLE_ROLES WHERE ROLE_NAME = CURRENT_ROLE())';

/**
 * Read right after login, before the first client sees the connection; a tracked one
 * (`target.tracked`) has its trackers turned on in the same round trip.
 */
export async function readBaseline(target: CommandTarget, timeoutMs: number, statementTime: string | null = null): Promise<SessionBaseline> {
  const replies = await runCommands(target, baselineCommands(target), timeoutMs);
  if (replies.length > 1 && replies[0]!.kind !== 'ok') throw new Error(`turning the session trackers on answered ${describe(replies[0]!)}`);
  const reply = replies[replies.length - 1]!;
  const row = stateRow(reply, target.tracked === true, true);
  if (!row) throw new Error(`unexpected reply to the baseline query (${describe(reply)})`);
  // Put into the reset's SQL: only a number as global-priv.ts writes one.
  if (statementTime !== null && !STATEMENT_TIME.test(statementTime)) throw new Error('the account\'s max_statement_time is not a number');
  row.statementTime = statementTime;
  return row;
}

/** The baseline's commands, each after turning a tracked connection's trackers on. */
function baselineCommands(target: CommandTarget): Buffer[] {
  return target.tracked ? [writeComQuery(TRACKING_ON), writeComQuery(TRACKED_BASELINE_SQL)] : [writeComQuery(BASELINE_SQL)];
}

export async function resetBackend(
  target: CommandTarget,
  database: string | null,
  baseline: SessionBaseline,
  timeoutMs: number,
): Promise<HealthCheck> {
  // A connection's database, flags and login role never change: its batch is looked up once.
  const batch = (baseline.resetBatch ??= resetBatch(target, database, baseline.role !== null, baseline.statementTime ?? null));
  const { commands, profilesAt } = batch;
  // A tracked connection's check reads its settings out of the row: always parsed.
  const kept = target.tracked ? undefined : [];
  let replies: CommandReply[];
  try {
    if (baseline.resetReplies && kept) {
      const arrived = await sendExpecting(target, commands.bytes, baseline.resetReplies, timeoutMs);
      if (arrived === SAME_REPLIES) return PASSED;
      replies = await runCommands(target, commands, timeoutMs, { sent: { arrived }, replyBytes: kept });
    } else {
      replies = await runCommands(target, commands, timeoutMs, kept && { replyBytes: kept });
    }
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
  for (const [i, reply] of replies.slice(0, -1).entries()) {
    if (i === profilesAt) {
      if (reply.kind !== 'rows') return { ok: false, reason: `SHOW PROFILES answered ${describe(reply)}` };
      if (reply.rows.length > 0) return { ok: false, reason: 'a client turned profiling on: the history would show to the next' };
    } else if (reply.kind !== 'ok') return { ok: false, reason: `reset step answered ${describe(reply)}` };
  }
  const last = replies[replies.length - 1]!;
  const row = stateRow(last, target.tracked === true, false);
  if (!row) return { ok: false, reason: `state check answered ${describe(last)}` };
  if (row.database !== baseline.database) return { ok: false, reason: 'current database differs from login' };
  if (row.role !== baseline.role) return { ok: false, reason: 'active role differs from login' };
  if (kept) baseline.resetReplies = Buffer.concat(kept);
  return row.settings ? { ok: true, settings: row.settings } : PASSED;
}

const PASSED: HealthCheck = { ok: true };
const STATEMENT_TIME = /^\d{1,12}\.\d{6}$/;

interface ResetBatch {
  commands: FramedCommands;
  /** Which reply is SHOW PROFILES'. */
  profilesAt: number;
}

/** The same few commands for every reset of a pool key's connections: framed once per database, capability set and tracking. */
const resetBatches = new Map<string, ResetBatch>();
const MAX_RESET_BATCHES = 1_000;

function resetBatch(target: CommandTarget, database: string | null, roled: boolean, statementTime: string | null): ResetBatch {
  const tracked = target.tracked === true;
  // Names cannot hold NUL: no two keys' fields run together into one id.
  const id = `${tracked ? 'T' : '-'}${roled ? 'R' : '-'}\0${target.capabilities >>> 0}\0${statementTime ?? ''}\0${database ?? ''}`;
  let batch = resetBatches.get(id);
  if (batch) return batch;
  const commands = [writeComResetConnection()];
  if (database) commands.push(writeComInitDb(database));
  const restore = loginSettings(target.capabilities, statementTime);
  if (restore) commands.push(writeComQuery(restore));
  const profilesAt = commands.push(writeComQuery(PROFILES_SQL)) - 1;
  const check = (tracked ? TRACKED_CHECK_SQL : CHECK_SQL) + (roled ? ROLE_STILL_GRANTED : '');
  if (tracked) commands.push(writeComQuery(TRACKING_ON), writeComQuery(check));
  else commands.push(writeComQuery(check));
  batch = { commands: frameCommands(commands), profilesAt };
  if (resetBatches.size >= MAX_RESET_BATCHES) resetBatches.clear();
  resetBatches.set(id, batch);
  return batch;
}

/**
 * Runs init_connect on a reused connection for a new client, as the server does at
 * login: as one compound statement (init_connect may hold several, and the connection
 * need not allow multi-statements). A tracked connection's settings follow what it
 * reports. Throws when it fails: the server refuses such a login.
 */
export async function runInitConnect(target: CommandTarget & { settings: SessionSettings | null }, sql: string, timeoutMs: number): Promise<void> {
  const [reply] = await runCommands(target, [writeComQuery(`BEGIN NOT ATOMIC ${sql}; END`)], timeoutMs);
  if (reply!.kind === 'error') throw new Error(`init_connect failed: ${reply!.error.code} ${reply!.error.message}`);
  const state = reply!.kind === 'ok' ? reply!.ok.sessionState : undefined;
  const current = target.settings;
  if (!state || !current) return;
  let reported = 0;
  readSessionState(state, 0, state.length, {
    variable(name, value) {
      const i = replayedIndex(name);
      if (i < 0) return;
      current.values[i] = value;
      reported |= reportBit(i);
    },
    schema(name) {
      current.database = name;
    },
    stateChanged() {},
    other() {},
  });
  // A charset set alone: its collation the default, unreported, or after SET NAMES ... COLLATE (text not read here) unknown.
  settleReport(current.values, reported, UNKNOWN_COLLATION);
}

export async function pingBackend(target: CommandTarget, timeoutMs: number): Promise<HealthCheck> {
  try {
    const [reply] = await runCommands(target, [writeComPing()], timeoutMs);
    return reply!.kind === 'ok' ? { ok: true } : { ok: false, reason: `COM_PING answered ${describe(reply!)}` };
  } catch (err) {
    return { ok: false, reason: (err as Error).message, timedOut: err instanceof ChannelTimeoutError };
  }
}

/**
 * What a login set and COM_RESET_CONNECTION takes back to the global values (MariaDB
 * 10.11): CLIENT_IGNORE_SPACE adds IGNORE_SPACE to sql_mode, CLIENT_INTERACTIVE makes
 * wait_timeout interactive_timeout, and the account's MAX_STATEMENT_TIME (from the
 * accounts read, checked to be a number by readBaseline) is max_statement_time. Null
 * when none.
 */
export function loginSettings(capabilities: number, statementTime: string | null): string | null {
  const parts: string[] = [];
  if (statementTime !== null) parts.push(`max_statement_time = ${statementTime}`);
  if (capabilities & CLIENT_IGNORE_SPACE) parts.push("sql_mode = CONCAT_WS(',', NULLIF(@@SESSION.sql_mode, ''), 'IGNORE_SPACE')");
  if (capabilities & CLIENT_INTERACTIVE) parts.push('wait_timeout = @@GLOBAL.interactive_timeout');
  return parts.length === 0 ? null : `SET SESSION ${parts.join(', ')}`;
}

/** The row of the baseline query (`withInitConnect`) or of the state check after a reset. */
function stateRow(reply: CommandReply, tracked: boolean, withInitConnect: boolean): SessionBaseline | null {
  // A tracked connection's baseline reads the login's trackers too.
  const fixed = withInitConnect ? (tracked ? 6 : 3) : 2;
  const columns = tracked ? fixed + SETTINGS_COLUMNS : fixed;
  if (reply.kind !== 'rows' || reply.columns.length !== columns || reply.rows.length !== 1) return null;
  const values = reply.rows[0]!;
  const row: SessionBaseline = { database: values[0] ?? null, role: values[1] ?? null };
  if (withInitConnect) row.initConnect = values[2] ?? null;
  if (withInitConnect && tracked) row.trackers = trackerView(values[3] ?? '', values[4] ?? '', values[5] ?? '');
  if (tracked) row.settings = settingsFromRow(values.slice(fixed), row.database);
  return row;
}

const SETTINGS_COLUMNS = SETTINGS_SELECT.split(',').length;

function describe(reply: CommandReply): string {
  if (reply.kind === 'error') return `error ${reply.error.code}`;
  return reply.kind === 'ok' ? 'OK' : `${reply.rows.length} rows`;
}
