// The listening socket: accepts clients, runs one session each, and closes
// them all on shutdown.
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import type { ComputeResolver } from '../control-client/types.js';
import { GreetingProfile } from './greeting-profile.js';
import { createSession, runSession, type SessionConfig } from './session.js';
import type { RoutingConfig } from './routing.js';

export interface ProxyOptions {
  host?: string;
  port: number;
  resolver: ComputeResolver;
  routing?: RoutingConfig;
  handshakeTimeoutMs?: number;
  wakeTimeoutMs?: number;
  connectTimeoutMs?: number;
  logger: Logger;
}

export interface ProxyServer {
  readonly port: number;
  readonly host: string;
  /** Sessions in progress. */
  readonly sessions: number;
  close(): Promise<void>;
}

export const PROXY_DEFAULTS = {
  handshakeTimeoutMs: 10_000,
  wakeTimeoutMs: 30_000,
  connectTimeoutMs: 5_000,
};

export async function startProxy(opts: ProxyOptions): Promise<ProxyServer> {
  const cfg: SessionConfig = {
    resolver: opts.resolver,
    routing: opts.routing ?? {},
    profile: new GreetingProfile(),
    handshakeTimeoutMs: opts.handshakeTimeoutMs ?? PROXY_DEFAULTS.handshakeTimeoutMs,
    wakeTimeoutMs: opts.wakeTimeoutMs ?? PROXY_DEFAULTS.wakeTimeoutMs,
    connectTimeoutMs: opts.connectTimeoutMs ?? PROXY_DEFAULTS.connectTimeoutMs,
    logger: opts.logger,
  };
  const sockets = new Set<Socket>();
  let nextId = 1;
  const server: Server = createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    // Ids wrap within 32 bits: they travel in the greeting's connection id.
    const id = nextId;
    nextId = nextId >= 0xffffffff ? 1 : nextId + 1;
    const ctx = createSession(id, socket, cfg);
    runSession(ctx).catch((err: unknown) => {
      ctx.log.error({ err }, 'session crashed');
      socket.destroy();
    });
  });
  server.on('error', (err) => opts.logger.error({ err }, 'proxy listener error'));
  await listen(server, opts.port, opts.host ?? '0.0.0.0');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  opts.logger.info({ host: opts.host ?? '0.0.0.0', port }, 'proxy listening');
  return {
    port,
    host: opts.host ?? '0.0.0.0',
    get sessions() {
      return sockets.size;
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      reject(
        err.code === 'EADDRINUSE'
          ? new Error(`port ${port} on ${host} is already in use`)
          : new Error(`cannot listen on ${host}:${port}: ${err.message}`),
      );
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}
