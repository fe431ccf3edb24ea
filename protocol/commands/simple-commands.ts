// Client -> Server: the commands that are one byte and nothing else.
//   COM_QUIT (0x01): the client is leaving; the server closes without a reply.
//   COM_PING (0x0e): the server answers OK.
//   COM_RESET_CONNECTION (0x1f): roll back, drop temporary tables, user variables and
//     prepared statements, restore session variables and the login charset; answers OK.
// https://mariadb.com/kb/en/com_quit/  https://mariadb.com/kb/en/com_ping/
// https://mariadb.com/kb/en/com_reset_connection/
import { COM_PING, COM_QUIT, COM_RESET_CONNECTION, commandName } from '../constants.js';
import { PacketReader } from '../packet-reader.js';

export type SimpleCommand = typeof COM_QUIT | typeof COM_PING | typeof COM_RESET_CONNECTION;

/** Command byte of a client packet that starts a command, or undefined for an empty packet. */
export function commandOf(payload: Buffer): number | undefined {
  return payload.length > 0 ? payload[0] : undefined;
}

/** Checks that `payload` is exactly the one-byte `command`. */
export function parseSimpleCommand(payload: Buffer, command: SimpleCommand): void {
  const r = new PacketReader(payload, 0, commandName(command));
  const got = r.u8('command');
  if (got !== command) throw r.error(`unexpected command 0x${got.toString(16)}`);
  if (r.remaining > 0) throw r.error(`${r.remaining} unexpected bytes after the command`);
}

export function writeComQuit(): Buffer {
  return Buffer.from([COM_QUIT]);
}

export function writeComPing(): Buffer {
  return Buffer.from([COM_PING]);
}

export function writeComResetConnection(): Buffer {
  return Buffer.from([COM_RESET_CONNECTION]);
}
