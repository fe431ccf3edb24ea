// Client -> Server: COM_INIT_DB (0x02), select the default schema (what `USE db` does).
// https://mariadb.com/kb/en/com_init_db/
import { COM_INIT_DB } from '../constants.js';
import { PacketReader } from '../packet-reader.js';
import { PacketWriter } from '../packet-writer.js';
import { ProtocolError } from '../protocol-error.js';

const LABEL = 'COM_INIT_DB';

/** The schema name runs to the end of the packet (no NUL, no length prefix). */
export function parseComInitDb(payload: Buffer): string {
  const r = new PacketReader(payload, 0, LABEL);
  const command = r.u8('command');
  if (command !== COM_INIT_DB) throw r.error(`unexpected command 0x${command.toString(16)}`);
  if (r.remaining === 0) throw r.error('truncated reading schema name');
  return r.restString();
}

export function writeComInitDb(schema: string): Buffer {
  if (schema === '') throw new ProtocolError(`${LABEL}: empty schema name`);
  return new PacketWriter(1 + Buffer.byteLength(schema)).u8(COM_INIT_DB).string(schema).payload();
}
