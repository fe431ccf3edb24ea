// Capabilities per hop: what the proxy may carry from a client to a compute.
import {
  CLIENT_COMPRESS,
  CLIENT_NO_SCHEMA,
  CLIENT_QUERY_ATTRIBUTES,
  CLIENT_SSL,
  CLIENT_SSL_VERIFY_SERVER_CERT,
  CLIENT_ZSTD_COMPRESSION_ALGORITHM,
} from '../protocol/index.js';

// Features negotiated per hop, never carried from client to compute: compression
// and TLS (the server adds TLS back to its greeting when it has a certificate).
export const PER_HOP_CAPABILITIES = (CLIENT_SSL | CLIENT_COMPRESS | CLIENT_ZSTD_COMPRESSION_ALGORITHM |
  CLIENT_SSL_VERIFY_SERVER_CERT | CLIENT_QUERY_ATTRIBUTES) >>> 0;

/** Capabilities for the proxy's own handshake with a compute: what the client chose, if the compute has it. */
export function negotiateBackendCapabilities(client: number, backend: number): number {
  return (client & backend & ~PER_HOP_CAPABILITIES) >>> 0;
}

/**
 * Client flags no pooled connection can serve, so such a client gets a compute
 * connection of its own in session and transaction mode (as in pipe mode), logged in
 * with its flags and closed with it. CLIENT_NO_SCHEMA makes the server drop the
 * database part of every name (`information_schema.x` reads `x` in the current
 * database), which the statements the proxy runs on a pooled connection (its check
 * after login, its resets) cannot work under. Every other flag that changes what the
 * server does is part of the pool key (backend/login.ts: a pooled connection is lent
 * only to clients that negotiated the same flags), so it never meets another's.
 */
export const OWN_CONNECTION_CAPABILITIES = CLIENT_NO_SCHEMA;
