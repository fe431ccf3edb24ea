// The floor of any Node server that ends the MySQL protocol itself: a process that
// greets, takes whatever login it is sent, answers every query with the one row of
// `SELECT 1` and any other command with an OK, and closes on COM_QUIT. No backend, no
// password check, no pool: one socket per client and a few canned packets. A pooled
// proxy does that much and its own work (auth, borrowing, bookkeeping) on top, so
// churn through this contender is what a pooled proxy in Node could reach at best on
// the same machine, against HAProxy's two sockets in C. Runs in its own process
// (forked by startWireFloor) so its CPU time is measured like the other contenders'.
//
// argv: <listen port>
import { createServer, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import {
  CLIENT_CONNECT_WITH_DB,
  CLIENT_LONG_FLAG,
  CLIENT_LONG_PASSWORD,
  CLIENT_PLUGIN_AUTH,
  CLIENT_PROTOCOL_41,
  CLIENT_SECURE_CONNECTION,
  CLIENT_TRANSACTIONS,
  COM_QUERY,
  COM_QUIT,
  SERVER_STATUS_AUTOCOMMIT,
  framePacket,
  writeGreeting,
  writeOkPacket,
  writeTextResultSet,
} from '../protocol/index.js';
import { startForkedServer, type ForkedServer } from './processes.js';

const SELF = fileURLToPath(import.meta.url);

export function startWireFloor(): Promise<ForkedServer> {
  return startForkedServer(SELF, 'node wire floor', []);
}

/** No CLIENT_DEPRECATE_EOF and no MariaDB extensions: one layout of every reply fits every client. */
export const FLOOR_CAPABILITIES =
  CLIENT_LONG_PASSWORD | CLIENT_LONG_FLAG | CLIENT_CONNECT_WITH_DB | CLIENT_PROTOCOL_41 | CLIENT_TRANSACTIONS | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH;
const STATUS = SERVER_STATUS_AUTOCOMMIT;

function cannedReplies(): { greeting: Buffer; loginOk: Buffer; commandOk: Buffer; selectOne: Buffer } {
  const greeting = writeGreeting({
    protocolVersion: 10,
    serverVersion: '10.11.0-wire-floor',
    connectionId: 1,
    scramble: Buffer.alloc(20, 0x41),
    capabilities: FLOOR_CAPABILITIES,
    mariadbCapabilities: 0,
    charset: 45,
    statusFlags: STATUS,
    authPluginName: 'mysql_native_password',
  });
  const ok = writeOkPacket({ affectedRows: 0, lastInsertId: 0, statusFlags: STATUS, warnings: 0, info: '' }, FLOOR_CAPABILITIES);
  const rows = writeTextResultSet(
    { columns: [{ name: '1', charset: 63, length: 1, type: 8, flags: 0x81, decimals: 0 }], rows: [['1']], statusFlags: STATUS, warnings: 0 },
    FLOOR_CAPABILITIES,
    0,
  );
  return {
    greeting: framePacket(greeting, 0),
    loginOk: framePacket(ok, 2),
    commandOk: framePacket(ok, 1),
    selectOne: Buffer.concat(rows.map((p, i) => framePacket(p, i + 1))),
  };
}

/**
 * A floor server on `port`: greets, takes any login, answers COM_QUIT with a close and
 * every other command but COM_QUERY with an OK; `answerQuery` answers a COM_QUERY (its
 * whole packet, header included).
 */
export function serveFloor(port: number, answerQuery: (client: Socket, query: Buffer) => void): void {
  const { greeting, loginOk, commandOk } = cannedReplies();
  const server = createServer({ noDelay: true }, (client: Socket) => {
    let loggedIn = false;
    client.write(greeting);
    client.on('data', (chunk: Buffer) => {
      // The load sends one packet and waits for its answer, so a chunk holds whole packets;
      // each is answered in turn.
      for (let at = 0; at + 4 <= chunk.length; at += 4 + chunk.readUIntLE(at, 3)) {
        if (!loggedIn) {
          loggedIn = true;
          client.write(loginOk);
          continue;
        }
        const command = chunk[at + 4];
        if (command === COM_QUIT) {
          client.end();
          return;
        }
        // COM_INIT_DB, COM_PING and the like: an OK.
        if (command === COM_QUERY) answerQuery(client, chunk.subarray(at, at + 4 + chunk.readUIntLE(at, 3)));
        else client.write(commandOk);
      }
    });
    client.on('error', () => client.destroy());
  });
  server.listen(port, '127.0.0.1');
  process.on('disconnect', () => process.exit(0));
}

if (process.argv[1] === SELF) {
  const { selectOne } = cannedReplies();
  serveFloor(Number(process.argv[2]), (client) => client.write(selectOne));
}
