// Pipe mode: after authentication bytes flow both ways untouched.
import type { Socket } from 'node:net';

export type RelayEnd = 'client_closed' | 'backend_closed' | 'client_error' | 'backend_error' | 'terminated';

/**
 * Carry bytes until either side goes away, then close the other. `leftover`
 * holds bytes each side sent before the relay took over, so none are lost.
 */
export function relayPipe(
  client: Socket,
  backend: Socket,
  clientLeftover: Buffer,
  backendLeftover: Buffer,
): Promise<RelayEnd> {
  return new Promise<RelayEnd>((resolve) => {
    let ended: RelayEnd | null = null;
    const end = (why: RelayEnd) => {
      if (ended) return;
      ended = why;
      // end() lets a final packet (an ERR, a QUIT) drain; destroy stops a stuck peer.
      client.end();
      backend.end();
      setTimeout(() => {
        client.destroy();
        backend.destroy();
      }, 1_000).unref();
      resolve(why);
    };
    client.once('close', () => end('client_closed'));
    backend.once('close', () => end('backend_closed'));
    client.on('error', () => end('client_error'));
    backend.on('error', () => end('backend_error'));
    if (backendLeftover.length > 0) client.write(backendLeftover);
    if (clientLeftover.length > 0) backend.write(clientLeftover);
    client.pipe(backend);
    backend.pipe(client);
  });
}
