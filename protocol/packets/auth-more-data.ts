// Server -> Client during authentication: extra plugin data (0x01), e.g. the
// caching_sha2_password fast-auth result or an RSA public key.
// https://mariadb.com/kb/en/connection/#authentication-switch-request
import { AUTH_MORE_DATA_HEADER } from '../constants.js';
import { PacketReader } from '../packet-reader.js';
import { PacketWriter } from '../packet-writer.js';

const LABEL = 'AuthMoreData';

/** Only meaningful during authentication: in a result set 0x01 is a column count. */
export function isAuthMoreData(payload: Buffer): boolean {
  return payload.length > 0 && payload[0] === AUTH_MORE_DATA_HEADER;
}

/** The plugin data after the header, as a view into the payload. */
export function parseAuthMoreData(payload: Buffer): Buffer {
  const r = new PacketReader(payload, 0, LABEL);
  const header = r.u8('header');
  if (header !== AUTH_MORE_DATA_HEADER) throw r.error(`unexpected header 0x${header.toString(16)}`);
  return r.rest();
}

export function writeAuthMoreData(data: Buffer): Buffer {
  return new PacketWriter(1 + data.length).u8(AUTH_MORE_DATA_HEADER).bytes(data).payload();
}
