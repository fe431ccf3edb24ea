// Two connected loopback sockets for relay and socket unit tests, and a collector of
// what one of them receives.
import { createServer, connect, type Socket } from 'node:net';

/** How the near end dials: plain TCP unless a test needs the proxy's own socket. */
export type Dial = (port: number) => Socket;

export const plain: Dial = (port) => connect(port, '127.0.0.1');

/** Two connected sockets: [the dialed side, which a test hands to the code under test; the accepted far end]. */
export async function socketPair(dial: Dial = plain): Promise<[Socket, Socket]> {
  const server = createServer();
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
