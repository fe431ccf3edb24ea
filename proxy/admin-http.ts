// Admin HTTP: Prometheus metrics, liveness, readiness. One proxy process serves its
// own registry; the primary of several workers serves their merged metrics (the
// scrape is a function, so both fit).
import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import type { Logger } from 'pino';

export interface AdminServer {
  port: number;
  close(): Promise<void>;
}

/** One scrape's answer: the exposition text and its content type. */
export interface Scrape {
  contentType: string;
  text: string;
}

/** A scrape that cannot be answered whole (a worker did not answer): 503 with this message, never a partial sum. */
export class ScrapeUnavailable extends Error {
  override readonly name = 'ScrapeUnavailable';
}

export interface AdminOptions {
  host: string;
  port: number;
  /** The metrics of a scrape. */
  scrape: () => Promise<Scrape>;
  /** False while draining or before the listener is up: load balancers stop sending clients. */
  ready: () => boolean;
  /** More facts for /healthz's answer (a primary: its workers alive). */
  health?: () => Record<string, unknown>;
  logger: Logger;
}

/** A scrape of one process's registry; `beforeScrape` brings live sessions' byte counts up to date first. */
export function registryScrape(registry: Registry, beforeScrape?: () => void): () => Promise<Scrape> {
  return async () => {
    beforeScrape?.();
    return { contentType: registry.contentType, text: await registry.metrics() };
  };
}

export async function startAdminServer(opts: AdminOptions): Promise<AdminServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(`${JSON.stringify({ ok: true, ...opts.health?.() })}\n`);
    } else if (path === '/readyz') {
      const ready = opts.ready();
      res.writeHead(ready ? 200 : 503, { 'content-type': 'application/json' }).end(`{"ready":${ready}}\n`);
    } else if (path === '/metrics') {
      opts.scrape().then(
        (s) => res.writeHead(200, { 'content-type': s.contentType }).end(s.text),
        (err: unknown) => {
          if (err instanceof ScrapeUnavailable) {
            opts.logger.warn({ reason: err.message }, 'metrics unavailable');
            res.writeHead(503, { 'content-type': 'text/plain' }).end(`${err.message}\n`);
            return;
          }
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
