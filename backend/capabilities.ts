// Capabilities per hop: what the proxy may carry from a client to a compute.
import {
  CLIENT_COMPRESS,
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
