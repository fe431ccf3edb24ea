// A bare Node relay: accept, connect to the backend, pipe() both ways, nothing
// else. It is what any proxy written in Node pays for its sockets alone, so the
// proxy's figures read against it show what the proxy adds on top of Node,
// and HAProxy's show what Node itself costs. Runs in its own process (forked
// by startNodeRelay) so its CPU time is measured like the other contenders'.
//
// argv: <listen port> <backend host> <backend port>
import { connect, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { startForkedServer, type ForkedServer } from './processes.js';

const SELF = fileURLToPath(import.meta.url);

export function startNodeRelay(backend: { host: string; port: number }): Promise<ForkedServer> {
  return startForkedServer(SELF, 'node relay', [backend.host, String(backend.port)]);
}

function serve(port: number, host: string, backendPort: number): void {
  const server = createServer({ noDelay: true }, (client) => {
    const backend = connect({ host, port: backendPort, noDelay: true });
    client.pipe(backend).pipe(client);
    const close = () => {
      client.destroy();
      backend.destroy();
    };
    client.on('error', close).on('close', close);
    backend.on('error', close).on('close', close);
  });
  server.listen(port, '127.0.0.1');
  process.on('disconnect', () => process.exit(0));
}

if (process.argv[1] === SELF) serve(Number(process.argv[2]), process.argv[3]!, Number(process.argv[4]));
