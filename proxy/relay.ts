// Pipe mode: after authentication bytes flow both ways untouched.
//
// Plain 'data' listeners rather than stream.pipe(): the same syscalls, but a
// handful of closures per session instead of pipe()'s score of them, which
// matters when thousands of idle clients are held.
import type { Socket } from 'node:net';

export type RelayEnd = 'client_closed' | 'backend_closed' | 'client_error' | 'backend_error';

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
    let ended = false;
    const end = (why: RelayEnd) => {
      if (ended) return;
      ended = true;
      // end() lets a final packet (an ERR, a QUIT) drain; destroy stops a stuck peer.
      client.end();
      backend.end();
      setTimeout(() => {
        client.destroy();
        backend.destroy();
      }, 1_000).unref();
      resolve(why);
    };
    forward(client, backend);
    forward(backend, client);
    client.once('close', () => end('client_closed'));
    backend.once('close', () => end('backend_closed'));
    client.on('error', () => end('client_error'));
    backend.on('error', () => end('backend_error'));
    if (backendLeftover.length > 0) client.write(backendLeftover);
    if (clientLeftover.length > 0) backend.write(clientLeftover);
    // Both arrive paused from the handshake.
    client.resume();
    backend.resume();
  });
}

/** from → to with backpressure: stop reading while `to` cannot keep up. */
function forward(from: Socket, to: Socket): void {
  from.on('data', (chunk: Buffer) => {
    if (!to.write(chunk)) from.pause();
  });
  to.on('drain', () => from.resume());
  // A peer that half-closes: pass the FIN on.
  from.on('end', () => to.end());
}
