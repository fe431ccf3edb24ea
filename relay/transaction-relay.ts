// Transaction pooling's relay: a client holds a backend only while a statement runs or a
// transaction is open, so an idle client holds none and its compute may sleep; its next
// statement borrows a backend again (waking the compute if need be: backend-lease.ts).
// This is the client's side: its bytes cut into whole packets (a held-back command goes
// whole to whichever backend comes), queued, and each command sent, answered here or
// held. The backend's side, replies followed to their end and the backend given back
// between transactions, is compute-exchange.ts; pins are pin-judge.ts, settings replayed
// tracked-session.ts, binary prepared statements statement-relay.ts, KILL and a bare
// SELECT CONNECTION_ID() intercept-relay.ts.
//
// With no backend held, COM_PING and COM_RESET_CONNECTION are answered here (a pool's
// keep-alive pings must not wake a sleeping compute), and COM_QUIT just closes; holding
// one, COM_QUIT (or a FIN) closes once the replies to what came before it are relayed,
// as MariaDB answers. A client that leaves while its statement runs hands the backend to
// `abandon`, which stops the statement before the connection goes anywhere.
import type { Socket } from 'node:net';
import {
  CLIENT_PROTOCOL_41,
  COM_PING,
  COM_QUIT,
  COM_RESET_CONNECTION,
  COM_STMT_SEND_LONG_DATA,
  MARIADB_CLIENT_STMT_BULK_OPERATIONS,
  PacketFramer,
  ProtocolError,
  framePacket,
  isStatementCommand,
  writeErrPacket,
  type ErrPacket,
  type Packet,
  type ReplyTracker,
} from '../protocol/index.js';
import type { PooledBackend } from '../pool/pooled-backend.js';
import type { SessionEnd } from './session-relay.js';
import { TrackedSession } from './tracked-session.js';
import { copySettings, parseContext } from '../backend/session-settings.js';
import { endAfterSession } from '../socket/socket-ends.js';
import type { ClientStatement } from './client-statements.js';
import { DEFAULT_STATEMENTS_PER_CONNECTION } from './statement-router.js';
import { StatementRelay, type StatementHost } from './statement-relay.js';
import { idleOkPayload } from './command-answers.js';
import { ComputeExchange } from './compute-exchange.js';
import type { ExchangeHost, ExchangeOptions } from './exchange-state.js';
import { InterceptRelay, type InterceptHost, type InterceptOptions } from './intercept-relay.js';
import type { PinReason } from './query-verdict.js';
import { queueFin } from './client-fin.js';
import type { ChannelSink, PacketChannel } from '../socket/packet-channel.js';

export interface TransactionRelayOptions extends ExchangeOptions, InterceptOptions {
  /** The handshake's channel, parked (PacketChannel.park): the relay takes the client's events from it, with no listener of its own. */
  channel?: PacketChannel | null;
  /** What the client negotiated; pooled backends have the same (see backend/login.ts), CLIENT_SESSION_TRACK aside when tracked. */
  capabilities: number;
  /** The client negotiated CLIENT_SESSION_TRACK (tracked backends: else their OKs are rewritten without session state). */
  clientTracks: boolean;
  /** Largest client packet accepted (continuations joined); beyond it the session ends with 1153. */
  maxPacketSize: number;
  /** The ERR that answers a statement no backend could be borrowed for. */
  errorFor(err: unknown): ErrPacket;
  /** Binary prepared statements kept per compute connection (least recently used closed first). */
  statementsPerConnection?: number;
}

export interface TransactionOutcome {
  end: SessionEnd;
  /** Times a backend was borrowed, the login's included. */
  borrows: number;
  pinned: PinReason | null;
}

const TOO_LARGE = { code: 1153, sqlState: '08S01', message: "Got a packet bigger than 'max_allowed_packet' bytes" };

/** `first` is the backend the login borrowed: it goes back at once, and the first statement borrows again. */
export function relayTransactions(
  client: Socket,
  clientLeftover: Buffer,
  first: PooledBackend,
  o: TransactionRelayOptions,
): Promise<TransactionOutcome> {
  return new Promise<TransactionOutcome>((resolve) => new TransactionRelay(client, o, resolve).start(first, clientLeftover));
}

/** One session's relay: the client's side, and what ties the parts together (few fields per idle client). */
class TransactionRelay implements ExchangeHost, StatementHost, InterceptHost, ChannelSink {
  private readonly framer: PacketFramer;
  readonly queue: Packet[] = [];
  /** The backend held, what goes to it and what comes back. */
  private readonly exchange: ComputeExchange;
  private readonly intercepts: InterceptRelay;
  /** Made at the first prepared-statement command. */
  statements: StatementRelay | null = null;
  ended = false;

  // The client's events: the socket's listeners, or a parked channel's sink (ChannelSink).
  readonly onData = (chunk: Buffer) => this.fromClient(chunk);
  private readonly onClientDrain = () => this.exchange.lease.resume();
  // After its COM_QUIT a client that closes has said goodbye: its replies are still awaited,
  // read on (a backend paused on the client's backpressure would wait for a drain that never comes).
  readonly onClose = () => (this.exchange.leaving ? this.exchange.lease.resume() : this.end('client_closed'));
  readonly onError = () => (this.exchange.leaving ? this.exchange.lease.resume() : this.end('client_error'));
  // A FIN ends the client's commands as COM_QUIT does (client-fin.ts); mid-LOAD DATA the file is cut short: gone.
  readonly onEnd = () => {
    if (this.exchange.replies?.awaitingInfile) return this.end('client_closed');
    queueFin(this.queue);
    this.pump();
  };

  constructor(
    private readonly client: Socket,
    private readonly opts: TransactionRelayOptions,
    private readonly resolve: (outcome: TransactionOutcome) => void,
  ) {
    this.framer = new PacketFramer(opts.maxPacketSize);
    this.exchange = new ComputeExchange(this, client, opts);
    this.intercepts = new InterceptRelay(this, opts);
  }

  start(first: PooledBackend, clientLeftover: Buffer): void {
    const { client, exchange } = this;
    const login = first.tracked ? first.loginSettings : null;
    if (login) {
      const { clientTracks } = this.opts;
      // A tracked connection always read its login's trackers (backend/health.ts).
      const view = clientTracks ? first.loginTrackers! : null;
      exchange.tracked = new TrackedSession(copySettings(login), !clientTracks, view, login.database === null, exchange.pins.verdicts);
    }
    const { channel } = this.opts;
    if (!channel) {
      client.on('close', this.onClose);
      client.on('error', this.onError);
    }
    client.on('drain', this.onClientDrain);
    exchange.lease.hold(first, false);
    if (client.destroyed) return this.end('client_closed');
    exchange.lease.release({ dirty: false, reset: false });
    if (clientLeftover.length > 0) this.fromClient(clientLeftover);
    if (this.ended) return;
    // A parked channel passes on what came meanwhile, then every event; it never paused the socket.
    if (channel) channel.handOver(this);
    else {
      client.on('data', this.onData);
      client.on('end', this.onEnd);
    }
    if (this.ended) return;
    if (client.readableEnded) this.onEnd();
    else if (!channel) client.resume();
  }

  end(why: SessionEnd): void {
    if (this.ended) return;
    this.ended = true;
    const { client, exchange } = this;
    const { channel } = this.opts;
    client.off('drain', this.onClientDrain);
    if (channel) channel.handOver(null); // its listeners stay, as an error listener must
    else {
      client.off('data', this.onData);
      client.off('end', this.onEnd);
      client.off('close', this.onClose);
      client.off('error', this.onError);
      client.on('error', ignore);
    }
    exchange.finish(why, this.framer.buffered > 0 || this.statements?.reading === true);
    if (why === 'client_closed' || why === 'client_error') client.destroy();
    else endAfterSession(client, why === 'client_quit');
    this.resolve({ end: why, borrows: exchange.lease.borrows, pinned: exchange.pins.pinned });
  }

  private fromClient(chunk: Buffer): void {
    let packets: Packet[];
    try {
      packets = this.framer.push(chunk);
    } catch (err) {
      if (err instanceof ProtocolError && /exceeds max_packet_size/.test(err.message)) {
        this.client.write(framePacket(writeErrPacket(TOO_LARGE, CLIENT_PROTOCOL_41), 1));
      }
      return this.end('client_error');
    }
    for (const p of packets) this.queue.push(p);
    this.pump();
  }

  /** Send queued client packets on, borrowing a backend when a command needs one. */
  pump(): void {
    const { queue, exchange } = this;
    while (queue.length > 0 && !this.blocked && !this.ended) {
      const p = queue[0]!;
      const command = exchange.commandOf(p);
      if (command === COM_QUIT) return exchange.quit();
      if (command >= 0 && isStatementCommand(command)) {
        this.statements ??= new StatementRelay(
          this,
          this.opts.statementsPerConnection ?? DEFAULT_STATEMENTS_PER_CONNECTION,
          this.opts.storedCode ?? null,
          (this.opts.mariadbCapabilities & MARIADB_CLIENT_STMT_BULK_OPERATIONS) !== 0,
        );
        if (this.statements.step(p, command)) continue;
        return;
      }
      if (command >= 0 && this.intercepts.wants(p, command)) {
        this.intercepts.intercept(p);
        continue;
      }
      if (!exchange.lease.held) {
        if (command < 0) return this.end('client_error'); // bytes outside any command: out of step
        if (command === COM_PING || command === COM_RESET_CONNECTION) {
          queue.shift();
          if (command === COM_RESET_CONNECTION) {
            this.statements?.table.clear();
            exchange.tracked?.backToLogin();
          }
          this.client.write(framePacket(idleOkPayload(this.opts.capabilities), (p.sequenceId + 1) & 0xff));
          continue;
        }
        if (this.borrowNow()) continue;
        return;
      }
      if (!exchange.send(p, command)) return;
      queue.shift();
    }
    // Commands that need no reply (COM_STMT_CLOSE, long data) may leave the backend with nothing to wait for.
    if (queue.length === 0 && exchange.idle && !this.blocked && !this.ended && exchange.mayLetGo()) exchange.letGo(false);
  }

  /** The client's queue waits: for a backend, a KILL's decision, the proxy's own replies or prepare. */
  private get blocked(): boolean {
    const { exchange } = this;
    return exchange.lease.waiting || this.intercepts.deciding || exchange.draining || this.statements?.blocking === true;
  }

  // ExchangeHost: the compute-exchange.ts side.

  borrowed(got: PooledBackend | null, failure: unknown): void {
    if (!got) {
      // The statement gets the error; the client may try again. (Long data has no reply: it is lost, and so fails its execute.)
      const p = this.queue.shift()!;
      const command = this.exchange.commandOf(p);
      this.statements?.borrowFailed(command);
      if (command !== COM_STMT_SEND_LONG_DATA) this.client.write(framePacket(writeErrPacket(this.opts.errorFor(failure), CLIENT_PROTOCOL_41), (p.sequenceId + 1) & 0xff));
    }
    this.client.resume();
    this.pump();
  }

  serverDrained(): void {
    if (!this.blocked && !this.ended) this.client.resume();
  }

  // InterceptHost: the intercept-relay.ts side.

  get lastStatus(): number {
    return this.exchange.lastStatus;
  }

  decided(): void {
    this.serverDrained();
    this.pump();
  }

  terminate(): void {
    this.end('terminated');
  }

  // StatementHost: the statement-relay.ts side.

  get held(): PooledBackend | null {
    return this.exchange.lease.held;
  }

  get replies(): ReplyTracker | null {
    return this.exchange.replies;
  }

  get capabilities(): number {
    return this.opts.capabilities;
  }

  toCompute(payload: Buffer, sequenceId: number, command: number, reply: ClientStatement | null | undefined, rowsOnly: boolean): void {
    this.exchange.toCompute(payload, sequenceId, command, reply, rowsOnly);
  }

  toClient(bytes: Buffer): void {
    this.client.write(bytes);
  }

  proxyCommand(): void {
    this.exchange.proxyCommand();
  }

  /** A backend for the queue's head: true when one is held at once, else the queue waits for borrowed(). */
  borrowNow(): boolean {
    const { lease } = this.exchange;
    if (lease.takeIdle()) return true;
    this.client.pause();
    void lease.wait();
    return false;
  }

  pauseClient(): void {
    this.client.pause();
  }

  carryOn(): void {
    if (this.queue.length === 0 && this.exchange.mayLetGo()) this.exchange.letGo(false);
    this.client.resume();
    this.pump();
  }

  broken(): void {
    this.end('backend_error');
  }

  statementContext(): string {
    const { tracked } = this.exchange;
    return tracked ? parseContext(tracked.settings) : '';
  }

  okPayload(): Buffer {
    return idleOkPayload(this.opts.capabilities);
  }
}

function ignore(): void {}
