// Client -> Server: COM_QUERY (0x03), one text-protocol statement (or several with
// CLIENT_MULTI_STATEMENTS). MariaDB has no query attributes, and the proxy never
// negotiates MySQL's CLIENT_QUERY_ATTRIBUTES, so the SQL runs to the end of the packet.
// https://mariadb.com/kb/en/com_query/
import { COM_QUERY } from '../constants.js';
import { PacketReader } from '../packet-reader.js';
import { PacketWriter } from '../packet-writer.js';

const LABEL = 'COM_QUERY';

export function parseComQuery(payload: Buffer): string {
  const r = new PacketReader(payload, 0, LABEL);
  const command = r.u8('command');
  if (command !== COM_QUERY) throw r.error(`unexpected command 0x${command.toString(16)}`);
  return r.restString();
}

export function writeComQuery(sql: string): Buffer {
  return new PacketWriter(1 + Buffer.byteLength(sql)).u8(COM_QUERY).string(sql).payload();
}
