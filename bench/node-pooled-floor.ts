// The floor of any pooled proxy written in Node: the wire floor (node-wire-floor.ts:
// canned greeting, any login taken, one socket per client) plus what pooling cannot
// skip: every query goes to a compute connection kept logged in between clients, and
// its reply comes back through. No password check, no routing, no session state, no
// metrics, no log: churn through this contender is the best a pooled proxy in Node
// could do on the same machine, so the pooled modes' gap to it is the proxy's own work
// and its gap to HAProxy is Node's. Runs in its own process (forked by
// startPooledFloor) so its CPU time is measured like the other contenders'.
//
// argv: <listen port> <backend host> <backend port> <user> <password> <database>
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { loginBackend } from '../backend/login.js';
import { EOF_HEADER, ERR_HEADER, OK_HEADER, nativePasswordStage1 } from '../protocol/index.js';
import { startForkedServer, type ForkedServer } from './processes.js';
import { FLOOR_CAPABILITIES, serveFloor } from './node-wire-floor.js';

const SELF = fileURLToPath(import.meta.url);

export interface FloorBackend {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

export function startPooledFloor(b: FloorBackend): Promise<ForkedServer> {
  return startForkedServer(SELF, 'node pooled floor', [b.host, String(b.port), b.user, b.password, b.database]);
}

/**
 * A logged-in compute connection and the reply it is carrying: bytes go to the
 * client as they come, and the packets are counted until the reply ends (an OK or
 * ERR first, else the EOF after the rows: no CLIENT_DEPRECATE_EOF on either hop).
 */
class Lent {
  client: Socket | null = null;
  private pending: Buffer = Buffer.alloc(0);
  private first = true;
  private eofs = 0;

  constructor(
    readonly socket: Socket,
    private readonly done: (lent: Lent) => void,
  ) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.resume();
  }

  lend(client: Socket, query: Buffer): void {
    this.client = client;
    this.first = true;
    this.eofs = 0;
    this.socket.write(query);
  }

  private onData(chunk: Buffer): void {
    this.client?.write(chunk);
    const buf = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    let at = 0;
    while (at + 4 <= buf.length) {
      const length = buf.readUIntLE(at, 3);
      if (at + 4 + length > buf.length) break;
      const header = buf[at + 4];
      at += 4 + length;
      if (this.first && (header === OK_HEADER || header === ERR_HEADER)) return this.end(buf, at);
      this.first = false;
      // An EOF, not a row starting with 0xfe (as isEofPacket tells them apart), without a view per packet.
      if (header === EOF_HEADER && length < 9 && ++this.eofs === 2) return this.end(buf, at);
    }
    this.pending = buf.subarray(at);
  }

  private end(buf: Buffer, at: number): void {
    if (at !== buf.length) throw new Error('the compute sent more than one reply');
    this.pending = Buffer.alloc(0);
    this.client = null;
    this.done(this);
  }
}

function serve(port: number, b: FloorBackend): void {
  const stage1 = nativePasswordStage1(b.password);
  const idle: Lent[] = [];
  const giveBack = (lent: Lent) => void idle.push(lent);
  const key = {
    addr: { host: b.host, port: b.port },
    user: b.user,
    database: b.database,
    capabilities: FLOOR_CAPABILITIES,
    mariadbCapabilities: 0,
    charset: 45,
  };
  const borrow = async (): Promise<Lent> => {
    const ready = idle.pop();
    if (ready) return ready;
    const logged = await loginBackend(key, stage1, { timeoutMs: 5_000 });
    return new Lent(logged.socket, giveBack);
  };
  serveFloor(port, (client, query) =>
    borrow().then(
      (lent) => lent.lend(client, query),
      () => client.destroy(),
    ),
  );
}

if (process.argv[1] === SELF) {
  const [port, host, backendPort, user, password, database] = process.argv.slice(2);
  serve(Number(port), { host: host!, port: Number(backendPort), user: user!, password: password!, database: database! });
}
