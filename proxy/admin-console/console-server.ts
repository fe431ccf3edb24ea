// The admin console: a MySQL-protocol listener of its own (never the client port),
// off unless a port is given, on loopback unless told otherwise, where an operator
// connects with the client they have (`mariadb -h 127.0.0.1 -P 6033 -u admin -p`)
// and asks the proxy what it is doing. One connection: greeting and login
// (console-login.ts), then commands until COM_QUIT: COM_QUERY runs a statement
// (console-commands.ts), COM_PING and COM_INIT_DB answer OK, anything else 1047.
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import {
  COM_INIT_DB,
  COM_PING,
  COM_QUERY,
  COM_QUIT,
  CLIENT_PROTOCOL_41,
  framePacket,
  nativePasswordVerifier,
  parseComQuery,
  writeErrPacket,
} from '../../protocol/index.js';
import { HANDSHAKE_MAX_PACKET, PacketChannel } from '../../socket/packet-channel.js';
import { closeSoon, destroyLater } from '../../socket/socket-ends.js';
import type { ProxyServer } from '../server.js';
import { runStatement, type ConsoleContext } from './console-commands.js';
import { logIn, type ConsoleAccount } from './console-login.js';
import { error, ok, replyPayloads, type ConsoleReply } from './console-reply.js';
import { readTotals, StatsWindow } from './show-stats.js';

export interface AdminConsoleOptions {
  /** Default 127.0.0.1. */
  host?: string;
  port: number;
  user: string;
  /** Required: a console without a password is refused at start. */
  password: string;
  proxy: ProxyServer;
  /** What DRAIN gives sessions to finish (the proxy's --drain-timeout). */
  drainTimeoutMs: number;
  logger: Logger;
  /** Bound on the login; default 10 s. */
  loginTimeoutMs?: number;
}

export interface AdminConsole {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  close(): Promise<void>;
}

/** Connections at once; more are refused before the greeting (a console is for a few people and scripts). */
const MAX_CONNECTIONS = 16;

export async function startAdminConsole(o: AdminConsoleOptions): Promise<AdminConsole> {
  if (!o.password) throw new Error('the admin console needs a password (--admin-mysql-password)');
  const host = o.host ?? '127.0.0.1';
  const account: ConsoleAccount = { user: o.user, verifier: nativePasswordVerifier(o.password) };
  const stats = new StatsWindow(async () => {
    o.proxy.refreshMetrics();
    return readTotals(o.proxy.metrics);
  });
  const open = new Set<Socket>();
  let nextId = 1;
  const server: Server = createServer({ noDelay: true }, (socket) => {
    socket.on('error', ignore);
    if (open.size >= MAX_CONNECTIONS) {
      socket.end(framePacket(writeErrPacket({ code: 1040, sqlState: '08004', message: 'Too many connections to the admin console' }, CLIENT_PROTOCOL_41), 0));
      destroyLater(socket);
      return;
    }
    open.add(socket);
    socket.once('close', () => open.delete(socket));
    serve(socket, nextId++, account, stats, o).catch((err: unknown) => {
      o.logger.debug({ err: (err as Error).message, client: socket.remoteAddress }, 'admin console connection ended');
      socket.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new Error(err.code === 'EADDRINUSE' ? `admin console port ${o.port} on ${host} is already in use` : err.message)),
    );
    server.listen(o.port, host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : o.port;
  o.logger.info({ host, port, user: o.user }, 'admin console listening');
  return {
    host,
    port,
    user: o.user,
    close: () =>
      new Promise<void>((resolve) => {
        stats.close();
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}

async function serve(socket: Socket, id: number, account: ConsoleAccount, stats: StatsWindow, o: AdminConsoleOptions): Promise<void> {
  const clientHost = socket.remoteAddress ?? 'unknown';
  const client = `${clientHost}:${socket.remotePort ?? 0}`;
  const channel = new PacketChannel(socket, 'client', HANDSHAKE_MAX_PACKET);
  const login = await logIn(channel, id, account, clientHost, o.loginTimeoutMs ?? 10_000);
  if (!login.ok) {
    o.logger.warn({ client, user: login.user, reason: login.reason }, 'admin console login refused');
    closeSoon(socket);
    return;
  }
  o.logger.info({ client, user: login.user }, 'admin console login');
  const c: ConsoleContext = {
    proxy: o.proxy,
    drainTimeoutMs: o.drainTimeoutMs,
    log: o.logger,
    asker: { user: login.user, client },
    stats,
    user: login.user,
    clientHost,
    connectionId: id,
  };
  for (;;) {
    const packet = await channel.read(0, 'command');
    const command = packet.payload[0];
    if (command === COM_QUIT) break;
    const reply = await answer(packet.payload, command, c);
    let seq = packet.sequenceId;
    for (const payload of replyPayloads(reply, login.capabilities)) channel.write(payload, (seq = (seq + 1) & 0xff));
  }
  closeSoon(socket);
}

async function answer(payload: Buffer, command: number | undefined, c: ConsoleContext): Promise<ConsoleReply> {
  switch (command) {
    case COM_QUERY:
      // Statements are ASCII; any other text is only echoed back in an error.
      return runStatement(parseComQuery(payload), c).catch((err: unknown) => {
        c.log.error({ err }, 'admin console statement failed');
        return error(1105, 'HY000', `wake-proxy admin console: internal error: ${(err as Error).message}`);
      });
    case COM_PING:
    case COM_INIT_DB:
      return ok();
    default:
      return error(1047, '08S01', 'Unknown command: the wake-proxy admin console takes text statements only (SHOW HELP)');
  }
}

function ignore(): void {}
