// Two connected loopback sockets for relay and socket unit tests, and a collector of
// what one of them receives.
import { createServer, connect, type Socket } from 'node:net';

/** How the near end dials: plain TCP unless a test needs the proxy's own socket. */
export type Dial = (port: number) => Socket;

export const plain: Dial = (port) => connect(port, '127.0.0.1');

/** As the proxy accepts clients: a FIN from the far end ends only what it sends. */
export const halfOpen: Dial = (port) => connect({ port, host: '127.0.0.1', allowHalfOpen: true });

/**
 * Two connected sockets: [the dialed side, which a test hands to the code under test; the
 * accepted far end]. `farHalfOpen`: the far end reads on after a FIN, and writes until it ends.
 */
export async function socketPair(dial: Dial = plain, farHalfOpen = false): Promise<[Socket, Socket]> {
  const server = createServer({ allowHalfOpen: farHalfOpen });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
  const near = dial((server.address() as { port: number }).port);
  const far = await accepted;
  await new Promise<void>((resolve) => (near.connecting ? near.once('connect', () => resolve()) : resolve()));
  server.close();
  return [near, far];
}

/** Everything `s` receives from now on, read when asked. */
export function collect(s: Socket): () => Buffer {
  const chunks: Buffer[] = [];
  s.on('data', (c: Buffer) => chunks.push(c));
  return () => Buffer.concat(chunks);
}
