// Client -> Server: SSLRequest, the first 32 bytes of a HandshakeResponse41 with
// CLIENT_SSL set, sent alone before the TLS handshake; the full response follows over TLS.
import { CLIENT_SSL } from '../constants.js';
import { PacketReader } from '../packet-reader.js';
import { PacketWriter } from '../packet-writer.js';
import { ProtocolError } from '../protocol-error.js';
import {
  HANDSHAKE_RESPONSE_FIXED_LENGTH,
  readHandshakeResponsePrefix,
  writeHandshakeResponsePrefix,
} from './handshake-response.js';

export interface SslRequest {
  capabilities: number;
  maxPacketSize: number;
  charset: number;
  mariadbCapabilities: number;
}

const LABEL = 'SSLRequest';

/** A full HandshakeResponse41 is always longer (it has at least the user's NUL). */
export function isSslRequest(payload: Buffer): boolean {
  return payload.length === HANDSHAKE_RESPONSE_FIXED_LENGTH && (payload.readUInt32LE(0) & CLIENT_SSL) !== 0;
}

export function parseSslRequest(payload: Buffer): SslRequest {
  const r = new PacketReader(payload, 0, LABEL);
  const request = readHandshakeResponsePrefix(r);
  if (r.remaining !== 0) {
    throw r.error(`expected ${HANDSHAKE_RESPONSE_FIXED_LENGTH} bytes, got ${payload.length}`);
  }
  if (!(request.capabilities & CLIENT_SSL)) throw r.error('CLIENT_SSL is not set');
  return request;
}

export function writeSslRequest(r: SslRequest): Buffer {
  if (!(r.capabilities & CLIENT_SSL)) throw new ProtocolError(`${LABEL}: CLIENT_SSL must be set`);
  const w = new PacketWriter(HANDSHAKE_RESPONSE_FIXED_LENGTH);
  writeHandshakeResponsePrefix(w, r);
  return w.payload();
}
