// Admin HTTP: Prometheus metrics, liveness, readiness.
import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import type { Logger } from 'pino';

export interface AdminServer {
  port: number;
  close(): Promise<void>;
}

export interface AdminOptions {
  host: string;
  port: number;
  registry: Registry;
  /** False while draining or before the listener is up: load balancers stop sending clients. */
  ready: () => boolean;
  /** Runs before each scrape so live sessions' byte counts are current. */
  beforeScrape?: () => void;
  logger: Logger;
}

export async function startAdminServer(opts: AdminOptions): Promise<AdminServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}\n');
    } else if (path === '/readyz') {
      const ready = opts.ready();
      res.writeHead(ready ? 200 : 503, { 'content-type': 'application/json' }).end(`{"ready":${ready}}\n`);
    } else if (path === '/metrics') {
      opts.beforeScrape?.();
      opts.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': opts.registry.contentType }).end(text),
        (err: unknown) => {
          opts.logger.error({ err }, 'metrics collection failed');
          res.writeHead(500).end();
        },
      );
    } else {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new Error(err.code === 'EADDRINUSE' ? `admin port ${opts.port} is already in use` : err.message)),
    );
    server.listen(opts.port, opts.host, () => resolve());
  });
  const addr = server.address();
  return {
    port: typeof addr === 'object' && addr ? addr.port : opts.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
