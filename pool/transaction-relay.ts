// Transaction pooling's relay: a client holds a backend only while a statement runs or a
// transaction is open, so an idle client holds none and its compute may sleep; its next
// statement borrows a backend again (waking the compute if need be).
//
// Client bytes are cut into whole packets (client packets are small, and a held-back
// command must be sent whole to whichever backend comes). Server bytes are relayed as
// they come while a ReplyTracker finds where each reply ends and what its status says.
// After a reply, with nothing else pending, no transaction open and autocommit on, the
// backend goes back to the pool without a reset: nothing was left on it.
//
// A statement that leaves session state behind pins the backend to the client for the
// rest of its session (pin-rules.ts); so does any command other than COM_QUERY, COM_PING,
// COM_RESET_CONNECTION and COM_INIT_DB (prepared statements, COM_CHANGE_USER, ...). A
// pinned session is relayed untouched, like session pooling, and its backend is reset
// when the client quits.
//
// With no backend held, COM_PING and COM_RESET_CONNECTION are answered here (a pool's
// keep-alive pings must not wake a sleeping compute), and COM_QUIT just closes.
import type { Socket } from 'node:net';
import {
  CLIENT_PROTOCOL_41,
  COM_CHANGE_USER,
  COM_INIT_DB,
  COM_PING,
  COM_QUERY,
  COM_QUIT,
  COM_RESET_CONNECTION,
  MAX_PAYLOAD_LENGTH,
  PacketFramer,
  ProtocolError,
  ReplyTracker,
  SERVER_STATUS_AUTOCOMMIT,
  SERVER_STATUS_IN_TRANS,
  commandName,
  framePacket,
  writeErrPacket,
  writeOkPacket,
  type ErrPacket,
  type Packet,
  type ReplyEnd,
} from '../protocol/index.js';
import type { ReleaseOptions } from './backend-pool.js';
import { judgeQuery, type PinReason, type QueryVerdict } from './pin-rules.js';
import type { PooledBackend } from './pooled-backend.js';
import type { SessionEnd } from './session-relay.js';

export interface TransactionRelayOptions {
  /** What the client negotiated; pooled backends have the same (see backend-login.ts). */
  capabilities: number;
  mariadbCapabilities: number;
  /** Largest client packet accepted (continuations joined); beyond it the session ends with 1153. */
  maxPacketSize: number;
  /** A backend for the client's next statement, waking the compute if it sleeps. */
  borrow(): Promise<PooledBackend>;
  giveBack(backend: PooledBackend, opts: ReleaseOptions): void;
  /** The ERR that answers a statement no backend could be borrowed for. */
  errorFor(err: unknown): ErrPacket;
  /** The session starts (true) or stops holding a backend. */
  onHold?(holding: boolean): void;
  /** Called once, when the session gets pinned. */
  onPin?(reason: PinReason, detail: string): void;
}

export interface TransactionOutcome {
  end: SessionEnd;
  /** Times a backend was borrowed, the login's included. */
  borrows: number;
  pinned: PinReason | null;
}

const NOTHING_PINNED: QueryVerdict = { pin: null, autocommitOnly: false };
const DATABASE_CHANGED: QueryVerdict = { pin: 'use_database', autocommitOnly: false };

/** `first` is the backend the login borrowed; it goes back at once unless bytes are already waiting. */
export function relayTransactions(
  client: Socket,
  clientLeftover: Buffer,
  first: PooledBackend,
  o: TransactionRelayOptions,
): Promise<TransactionOutcome> {
  const framer = new PacketFramer(o.maxPacketSize);
  const queue: Packet[] = [];
  /** What each pending reply's statement said about state, in order. */
  const verdicts: QueryVerdict[] = [];
  const ok = writeOkPacket(
    { affectedRows: 0, lastInsertId: 0, statusFlags: SERVER_STATUS_AUTOCOMMIT, warnings: 0, info: '' },
    o.capabilities,
  );
  let backend: PooledBackend | null = null;
  /** Present while a backend is held and the session is not pinned. */
  let tracker: ReplyTracker | null = null;
  let status = SERVER_STATUS_AUTOCOMMIT;
  let pinned: PinReason | null = null;
  let changedUser = false;
  let borrowing = false;
  let borrows = 0;
  let ended = false;

  return new Promise<TransactionOutcome>((resolve) => {
    const end = (why: SessionEnd) => {
      if (ended) return;
      ended = true;
      client.off('data', fromClient);
      client.off('drain', resumeServer);
      client.off('close', onClientClose);
      client.off('error', onClientError);
      client.on('error', ignore);
      if (backend) {
        // Reset whatever it holds (an open transaction, pinned state); a client gone mid-stream makes it unusable.
        const mid = (tracker?.pending ?? 0) > 0 || framer.buffered > 0;
        letGo({ dirty: why !== 'client_quit' || changedUser || mid, reset: true });
      }
      if (why === 'client_closed' || why === 'client_error') {
        client.destroy();
      } else {
        client.end();
        setTimeout(() => client.destroy(), 1_000).unref();
      }
      resolve({ end: why, borrows, pinned });
    };

    const fromClient = (chunk: Buffer) => {
      let packets: Packet[];
      try {
        packets = framer.push(chunk);
      } catch (err) {
        if (err instanceof ProtocolError && /exceeds max_packet_size/.test(err.message)) {
          client.write(framePacket(writeErrPacket(TOO_LARGE, CLIENT_PROTOCOL_41), 1));
        }
        return end('client_error');
      }
      for (const p of packets) queue.push(p);
      pump();
    };

    /** Send queued client packets on, borrowing a backend when a command needs one. */
    const pump = () => {
      while (queue.length > 0 && !borrowing && !ended) {
        const p = queue[0]!;
        const command = commandOf(p);
        if (command === COM_QUIT) return end('client_quit');
        if (!backend) {
          if (command < 0) return end('client_error'); // bytes outside any command: out of step
          if (command === COM_PING || command === COM_RESET_CONNECTION) {
            queue.shift();
            client.write(framePacket(ok, (p.sequenceId + 1) & 0xff));
            continue;
          }
          borrowing = true;
          client.pause();
          void borrowFor();
          return;
        }
        queue.shift();
        send(p, command);
      }
    };

    /** The command byte of a packet that starts a command, else -1. */
    const commandOf = (p: Packet): number => {
      if (tracker?.awaitingInfile) return -1;
      const fragments = Math.floor(p.payload.length / MAX_PAYLOAD_LENGTH) + 1;
      if (((p.sequenceId - fragments + 1) & 0xff) !== 0 || p.payload.length === 0) return -1;
      return p.payload[0]!;
    };

    const send = (p: Packet, command: number) => {
      const b = backend!;
      if (tracker?.awaitingInfile && p.payload.length === 0) tracker.infileSent();
      if (command >= 0) judge(p, command);
      const fragments = Math.floor(p.payload.length / MAX_PAYLOAD_LENGTH) + 1;
      if (!b.socket.write(framePacket(p.payload, (p.sequenceId - fragments + 1) & 0xff))) client.pause();
    };

    const judge = (p: Packet, command: number) => {
      if (command === COM_CHANGE_USER) changedUser = true;
      if (!tracker) return; // pinned: relayed untouched
      if (command === COM_QUERY) verdicts.push(judgeQuery(p.payload.subarray(1)));
      else if (command === COM_PING || command === COM_RESET_CONNECTION) verdicts.push(NOTHING_PINNED);
      else if (command === COM_INIT_DB) verdicts.push(DATABASE_CHANGED);
      else return pin('command', commandName(command));
      tracker.expect();
    };

    const onReply = (reply: ReplyEnd) => {
      const verdict = verdicts.shift() ?? NOTHING_PINNED;
      status = reply.statusFlags;
      if (verdict.pin) pin(verdict.pin, 'statement text');
      else if (reply.stateChanged && !verdict.autocommitOnly) pin('session_state', 'server reported a session state change');
    };

    const pin = (reason: PinReason, detail: string) => {
      if (pinned) return;
      pinned = reason;
      tracker = null;
      verdicts.length = 0;
      o.onPin?.(reason, detail);
    };

    const fromServer = (chunk: Buffer) => {
      const b = backend!;
      if (!client.write(chunk)) b.socket.pause();
      const t = tracker;
      if (!t) return;
      try {
        t.push(chunk);
      } catch {
        // Bytes no reply explains: the stream is out of step and neither side can be trusted.
        return end('backend_error');
      }
      // A reply in this chunk may have pinned the session (tracker gone).
      if (tracker === t && t.pending === 0 && !t.awaitingInfile && idleOutsideTransaction()) {
        letGo({ dirty: false, reset: false });
      }
    };

    const idleOutsideTransaction = () => (status & SERVER_STATUS_IN_TRANS) === 0 && (status & SERVER_STATUS_AUTOCOMMIT) !== 0;

    const borrowFor = async () => {
      let failure: unknown = null;
      let got: PooledBackend | null = null;
      try {
        got = await o.borrow();
      } catch (err) {
        failure = err;
      }
      borrowing = false;
      if (ended) {
        if (got) o.giveBack(got, { dirty: false, reset: false });
        return;
      }
      if (got) {
        hold(got);
      } else {
        // The statement gets the error; the client may try again.
        const p = queue.shift()!;
        client.write(framePacket(writeErrPacket(o.errorFor(failure), CLIENT_PROTOCOL_41), (p.sequenceId + 1) & 0xff));
      }
      client.resume();
      pump();
    };

    const hold = (b: PooledBackend) => {
      backend = b;
      borrows++;
      status = SERVER_STATUS_AUTOCOMMIT;
      if (!pinned) tracker = new ReplyTracker(o.capabilities, o.mariadbCapabilities, status, onReply);
      b.socket.on('data', fromServer);
      b.socket.on('drain', resumeClient);
      b.socket.on('close', onServerClose);
      b.socket.on('error', onServerError);
      b.socket.resume();
      o.onHold?.(true);
    };

    const letGo = (opts: ReleaseOptions) => {
      const b = backend!;
      backend = null;
      tracker = null;
      verdicts.length = 0;
      b.socket.off('data', fromServer);
      b.socket.off('drain', resumeClient);
      b.socket.off('close', onServerClose);
      b.socket.off('error', onServerError);
      b.socket.pause();
      o.onHold?.(false);
      o.giveBack(b, opts);
    };

    const resumeServer = () => backend?.socket.resume();
    const resumeClient = () => {
      if (!borrowing && !ended) client.resume();
    };
    const onClientClose = () => end('client_closed');
    const onClientError = () => end('client_error');
    const onServerClose = () => end('backend_closed');
    const onServerError = () => end('backend_error');

    client.on('close', onClientClose);
    client.on('error', onClientError);
    client.on('drain', resumeServer);
    hold(first);
    if (client.destroyed) return end('client_closed');
    letGo({ dirty: false, reset: false });
    if (clientLeftover.length > 0) fromClient(clientLeftover);
    if (ended) return;
    client.on('data', fromClient);
    client.resume();
  });
}

const TOO_LARGE = { code: 1153, sqlState: '08S01', message: "Got a packet bigger than 'max_allowed_packet' bytes" };

function ignore(): void {}
