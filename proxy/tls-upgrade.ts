// Client-side TLS termination: after the client's SSLRequest the same socket
// carries a TLS handshake, then the rest of the MySQL handshake inside it.
import { TLSSocket, type SecureContext } from 'node:tls';
import type { Socket } from 'node:net';

export class TlsHandshakeError extends Error {
  override readonly name = 'TlsHandshakeError';
}

/**
 * `leftover` holds bytes that arrived after the SSLRequest (a ClientHello sent
 * without waiting); they are put back so the TLS layer reads them first.
 */
export function upgradeToTls(
  socket: Socket,
  leftover: Buffer,
  secureContext: SecureContext,
  timeoutMs: number,
): Promise<TLSSocket> {
  if (leftover.length > 0) socket.unshift(leftover);
  const tls = new TLSSocket(socket, { isServer: true, secureContext });
  return new Promise<TLSSocket>((resolve, reject) => {
    const timer = setTimeout(() => done(new TlsHandshakeError(`TLS handshake not finished within ${timeoutMs} ms`)), timeoutMs);
    const done = (err: Error | null) => {
      clearTimeout(timer);
      tls.off('secure', onSecure);
      tls.off('error', onError);
      tls.off('close', onClose);
      tls.off('end', onClose);
      if (!err) return resolve(tls);
      tls.destroy();
      reject(err);
    };
    const onSecure = () => done(null);
    const onError = (err: Error) => done(new TlsHandshakeError(`TLS handshake failed: ${err.message}`));
    const onClose = () => done(new TlsHandshakeError('client closed during the TLS handshake'));
    tls.once('secure', onSecure);
    tls.once('error', onError);
    tls.once('close', onClose);
    // Half-open sockets do not close on a FIN: a client that sends one here has given up.
    tls.once('end', onClose);
  });
}
