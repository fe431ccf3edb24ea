// Client -> Server: commands the proxy never passes on as they are, because what the
// server would do with them is undefined or would outlive the client's session:
//
// - COM_PROCESS_KILL without its 4-byte id: the server reads the id past the packet's
//   end (bytes left from earlier packets), so it could end any thread. Refused in every
//   mode with the server's own code for a malformed packet.
// - On a pooled connection (session and transaction modes), which later clients get:
//   COM_REGISTER_SLAVE (the registration outlives COM_RESET_CONNECTION: the next client's
//   SHOW SLAVE HOSTS would list it), COM_BINLOG_DUMP and COM_BINLOG_DUMP_GTID (the
//   connection becomes a replication stream and the server closes it after), refused
//   for everyone; replication needs a connection of its own (pipe mode, or the compute).
// - COM_SHUTDOWN on a pooled connection: the compute judges the user's SHUTDOWN
//   privilege in a statement that stands in for it, so a user without it gets the
//   server's own 1227, and one with it a refusal; the command itself never goes.
//
// Every other command byte goes to the compute, which answers what it does not know
// with 1047 (Unknown command) as it would directly.
import {
  COM_BINLOG_DUMP,
  COM_BINLOG_DUMP_GTID,
  COM_PROCESS_KILL,
  COM_REGISTER_SLAVE,
  COM_SHUTDOWN,
  commandName,
  type ErrPacket,
} from '../protocol/index.js';

/** What stands in for a refused command: an error, or a statement whose reply is the answer. */
export type Refusal = { kind: 'refuse'; error: ErrPacket } | { kind: 'statement'; sql: string };

/** Whether `command` is one this file may refuse (looked at whole then). */
export function mayRefuse(command: number, pooled: boolean): boolean {
  switch (command) {
    case COM_REGISTER_SLAVE:
    case COM_BINLOG_DUMP:
    case COM_BINLOG_DUMP_GTID:
    case COM_SHUTDOWN:
      return pooled;
    default:
      return false;
  }
}

/** A whole command (command byte first): what answers it instead, or null to let it go. */
export function refusalOf(payload: Buffer, pooled: boolean): Refusal | null {
  const command = payload[0]!;
  if (command === COM_PROCESS_KILL) {
    if (payload.length >= 5) return null;
    return refuse(1835, 'HY000', `wake-proxy: COM_PROCESS_KILL carries a 4-byte connection id; this one has ${payload.length - 1} bytes`);
  }
  if (!pooled) return null;
  if (command === COM_SHUTDOWN) return { kind: 'statement', sql: SHUTDOWN_STAND_IN };
  if (!mayRefuse(command, pooled)) return null;
  return refuse(
    1235,
    '42000',
    `wake-proxy: ${commandName(command)} is not supported on a pooled connection (--pool-mode session or transaction), which other clients use after this one; replicate through a proxy in pipe mode or from the compute itself`,
  );
}

function refuse(code: number, sqlState: string, message: string): Refusal {
  return { kind: 'refuse', error: { code, sqlState, message } };
}

/** The grantee string information_schema writes for the session's account: 'user'@'host'. */
const GRANTEE = "CONCAT('''', SUBSTRING_INDEX(CURRENT_USER(), '@', 1), '''@''', SUBSTRING_INDEX(CURRENT_USER(), '@', -1), '''')";

/**
 * COM_SHUTDOWN's stand-in: the server checks the SHUTDOWN privilege before anything
 * else, and answers a user without it 1227; the proxy answers one with it 1235, since
 * the compute is shared by every client of the pool. Either way nothing shuts down.
 */
const SHUTDOWN_STAND_IN =
  `BEGIN NOT ATOMIC IF EXISTS (SELECT 1 FROM information_schema.USER_PRIVILEGES WHERE PRIVILEGE_TYPE = 'SHUTDOWN' AND GRANTEE = ${GRANTEE}) THEN ` +
  "SIGNAL SQLSTATE '42000' SET MYSQL_ERRNO = 1235, MESSAGE_TEXT = 'wake-proxy: COM_SHUTDOWN is not supported on a pooled connection (--pool-mode session or transaction), which other clients use too; stop the compute through the control API'; " +
  "ELSE SIGNAL SQLSTATE '42000' SET MYSQL_ERRNO = 1227, MESSAGE_TEXT = 'Access denied; you need (at least one of) the SHUTDOWN privilege(s) for this operation'; END IF; END";
