// A loopback port nobody listens on right now. Another process may take it
// before mariadbd binds it; the driver then retries with a fresh one.
import { createServer } from 'node:net';

export function findFreePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', (err) => reject(new Error(`no free port on ${host}: ${err.message}`, { cause: err })));
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error(`no free port on ${host}`))));
    });
  });
}
