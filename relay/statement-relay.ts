// The transaction relay's side of binary prepared statements: what happens to a
// statement command at the head of the client's queue (statement-router.ts decides),
// and the prepares the proxy sends itself. Their replies are read here whole, not
// relayed: the client's own prepare comes back with its id rewritten to the client's,
// one made again on another connection is swallowed. A prepare goes only once no other
// reply is pending on the connection, so every byte that follows is its reply; the
// client's later commands wait meanwhile.
//
// Answers the proxy makes itself (unknown ids, a fetch with no cursor, a reset with
// nothing to reset) are written here when no connection is held; holding one, the
// compute answers a stand-in command in order, with its own status flags: COM_PING for
// an OK, SIGNAL for an error (command-answers.ts does the same for KILL).
import {
  CLIENT_PROTOCOL_41,
  COM_STMT_PREPARE,
  COM_STMT_SEND_LONG_DATA,
  PacketFramer,
  PrepareReplyReader,
  ProtocolError,
  firstSequenceId,
  framePacket,
  writeComPing,
  writeComStmtClose,
  writeComStmtPrepare,
  writeErrPacket,
  type ErrPacket,
  type Packet,
  type ReplyEnd,
  type ReplyTracker,
} from '../protocol/index.js';
import type { PooledBackend } from '../pool/pooled-backend.js';
import type { ClientStatement, ClientStatements } from './client-statements.js';
import type { StoredCodeNames } from './stored-code-names.js';
import { errorStandIn } from './intercepted-command.js';
import { prepareRefusal } from './id-uses.js';
import { EXPECT_NONE, EXPECT_ROWS, STEP_BORROW, STEP_DROP, STEP_ERROR, STEP_OK, STEP_PREPARE, StatementRouter } from './statement-router.js';

/** What the statement side needs of its transaction relay. */
export interface StatementHost {
  readonly held: PooledBackend | null;
  /** Null while nothing is held, or when a command the proxy does not follow pinned the session. */
  readonly replies: ReplyTracker | null;
  readonly capabilities: number;
  /** The client's queue of whole packets; the head is the command being decided. */
  readonly queue: Packet[];
  /**
   * A command for the held backend. `reply`: what its reply concerns (a client statement,
   * or null for a stand-in whose reply changes nothing), undefined when none comes.
   */
  toCompute(payload: Buffer, sequenceId: number, command: number, reply: ClientStatement | null | undefined, rowsOnly: boolean): void;
  toClient(bytes: Buffer): void;
  /** The proxy sends a command of its own on the held backend (a statement prepared again there). */
  proxyCommand(): void;
  /** The queue's head needs a backend: borrow one; true when it is held at once, else the queue waits. */
  borrowNow(): boolean;
  pauseClient(): void;
  /** A wait of this side is over: give the backend back if nothing keeps it, read the client, go on with the queue. */
  carryOn(): void;
  /** The compute's stream is out of step. */
  broken(): void;
  /** The OK a held-nothing session answers with. */
  okPayload(): Buffer;
  /** The session's parse context now (backend/session-settings.ts parseContext), '' when its settings are not followed. */
  statementContext(): string;
}

/** What the compute answers when it may hold no more prepared statements (max_prepared_stmt_count). */
const TOO_MANY_STATEMENTS = 1461;
/** The largest prepare reply packet read (column definitions are small). */
const MAX_REPLY_PACKET = 16 * 1024 * 1024;
const PREPARE_UNTRACKED: ErrPacket = {
  code: 1105,
  sqlState: 'HY000',
  message: 'wake-proxy: a command the proxy does not follow pinned this session while it had prepared statements; new ones cannot be prepared in it',
};

export class StatementRelay {
  private readonly router: StatementRouter;
  /** A statement command at the queue's head waits for the replies before it to end. */
  waitingQuiet = false;
  /**
   * A command the proxy does not follow pinned the session before it had statements (or
   * after COM_CHANGE_USER dropped them): its commands go untouched, with the compute's own
   * ids, as on a direct connection.
   */
  private untouched = false;
  /** A prepare the proxy sent; its reply is read here. */
  private preparing: { framer: PacketFramer; reader: PrepareReplyReader; retried: boolean } | null = null;

  constructor(
    private readonly host: StatementHost,
    perConnection: number,
    /** The compute's stored code that pins (null: not followed). */
    code: StoredCodeNames | null,
    /** The client negotiated MARIADB_CLIENT_STMT_BULK_OPERATIONS. */
    bulk: boolean,
  ) {
    this.router = new StatementRouter(perConnection, () => host.statementContext(), code, bulk);
  }

  get table(): ClientStatements {
    return this.router.table;
  }

  /** Server bytes are this side's (a prepare's reply). */
  get reading(): boolean {
    return this.preparing !== null;
  }

  /** The client's queue waits for this side. */
  get blocking(): boolean {
    return this.waitingQuiet || this.preparing !== null;
  }

  /** The statement command `p` at the queue's head: true when dealt with and the queue goes on, false when it waits. */
  step(p: Packet, command: number): boolean {
    const { host, router } = this;
    // One that names a connection id would run on whichever compute connection: refused
    // (id-uses.ts), untracked connections too. As after a failed prepare, "the statement
    // just prepared" names none.
    const refused = command === COM_STMT_PREPARE ? prepareRefusal(p.payload) : null;
    if (refused) {
      host.queue.shift();
      router.table.last = null;
      this.answer(p, refused);
      return true;
    }
    if (this.untouched || (host.held !== null && host.replies === null && router.table.size === 0)) {
      this.untouched = true;
      host.queue.shift();
      host.toCompute(p.payload, firstSequenceId(p), command, undefined, false);
      return true;
    }
    const step = router.step(p.payload, command, host.held);
    switch (step) {
      case STEP_BORROW:
        return host.borrowNow();
      case STEP_DROP:
        host.queue.shift();
        return true;
      case STEP_OK:
      case STEP_ERROR:
        host.queue.shift();
        this.answer(p, step === STEP_OK ? null : router.error);
        return true;
      case STEP_PREPARE:
        return this.prepare(p);
    }
    host.queue.shift();
    host.toCompute(router.payload, firstSequenceId(p), command, router.expect === EXPECT_NONE ? undefined : router.owner, router.expect === EXPECT_ROWS);
    return true;
  }

  /** A reply to a command of `s` ended. */
  replied(s: ClientStatement, reply: ReplyEnd): void {
    this.router.replied(s, reply);
  }

  /** A borrow for the queue's head failed and it was answered with an error. */
  borrowFailed(command: number): void {
    // As after a failed prepare on the server, "the statement just prepared" names none.
    if (command === COM_STMT_PREPARE) this.router.table.last = null;
  }

  /** Bytes of the proxy's prepare's reply. */
  fromServer(chunk: Buffer): void {
    const prep = this.preparing!;
    try {
      const packets = prep.framer.push(chunk);
      for (let i = 0; i < packets.length; i++) {
        if (!prep.reader.push(packets[i]!.payload)) continue;
        if (i < packets.length - 1 || prep.framer.buffered > 0) throw new ProtocolError('bytes after a COM_STMT_PREPARE reply');
        prep.reader.check();
        this.preparing = null;
        return this.prepared(prep.reader, prep.retried);
      }
    } catch {
      return this.host.broken();
    }
  }

  /** The proxy's answer: an OK (null) or an ERR. */
  private answer(p: Packet, error: ErrPacket | null): void {
    const { host } = this;
    if (!host.held) {
      const payload = error ? writeErrPacket(error, CLIENT_PROTOCOL_41) : host.okPayload();
      host.toClient(framePacket(payload, (p.sequenceId + 1) & 0xff));
      return;
    }
    const standIn = error ? errorStandIn(error) : writeComPing();
    host.toCompute(standIn, 0, standIn[0]!, null, false);
  }

  /** Prepare on the held backend once no reply is pending there. */
  private prepare(p: Packet): boolean {
    const t = this.host.replies;
    if (!t) {
      // Untracked: where a prepare's reply would start is not known.
      this.host.queue.shift();
      this.answer(p, PREPARE_UNTRACKED);
      return true;
    }
    if (t.pending === 0 && this.refusedHere(p)) return true;
    this.host.pauseClient();
    if (t.pending > 0) this.waitingQuiet = true;
    else this.sendPrepare(this.router.sql, false);
    return false;
  }

  /** The replies before the waiting command ended (the session's settings are known now): prepare now. */
  quiet(): void {
    this.waitingQuiet = false;
    if (this.refusedHere(this.host.queue[0]!)) return this.host.carryOn();
    this.sendPrepare(this.router.sql, false);
  }

  /**
   * A statement to prepare again whose session moved to another parse context since it was
   * prepared: answered with the error (nothing is pending, so straight to the client).
   */
  private refusedHere(p: Packet): boolean {
    const s = this.router.preparing;
    const error = s === null ? null : this.router.contextMoved(s);
    if (error === null) return false;
    this.host.queue.shift();
    if (p.payload[0] !== COM_STMT_SEND_LONG_DATA) this.host.toClient(framePacket(writeErrPacket(error, CLIENT_PROTOCOL_41), (p.sequenceId + 1) & 0xff));
    return true;
  }

  private sendPrepare(sql: Buffer, retried: boolean): void {
    this.preparing = { framer: new PacketFramer(MAX_REPLY_PACKET), reader: new PrepareReplyReader(this.host.capabilities), retried };
    if (retried || this.router.preparing !== null) this.host.proxyCommand();
    this.host.held!.socket.write(framePacket(writeComStmtPrepare(sql), 0));
  }

  /** The reply to the proxy's prepare, whole: the queue's head is the command it was for. */
  private prepared(reader: PrepareReplyReader, retried: boolean): void {
    const { host, router } = this;
    const b = host.held!;
    const p = host.queue[0]!;
    const forClient = router.preparing === null;
    const replies = p.payload[0] !== COM_STMT_SEND_LONG_DATA;
    const close: number[] = [];
    if (reader.error) {
      const cache = router.on(b);
      if (!retried && reader.error.readUInt16LE(1) === TOO_MANY_STATEMENTS && cache.size > 0) {
        // The compute's max_prepared_stmt_count is reached: give back half of what this connection holds, try once more.
        this.closeOnCompute(cache.shed(Math.max(1, cache.size >> 1)));
        return this.sendPrepare(router.sql, true);
      }
      host.queue.shift();
      if (forClient) router.table.last = null;
      if (replies) host.toClient(framePacket(reader.error, (p.sequenceId + 1) & 0xff));
    } else if (forClient) {
      host.queue.shift();
      const { statement, close: evicted } = router.clientPrepared(reader, b);
      close.push(...evicted);
      const payloads = reader.payloads;
      payloads[0]!.writeUInt32LE(statement.id, 1);
      host.toClient(Buffer.concat(payloads.map((payload, i) => framePacket(payload, (p.sequenceId + 1 + i) & 0xff))));
    } else {
      const error = router.reprepared(router.preparing!, reader, b, close);
      if (error) {
        host.queue.shift();
        if (replies) host.toClient(framePacket(writeErrPacket(error, CLIENT_PROTOCOL_41), (p.sequenceId + 1) & 0xff));
      }
      // Otherwise the command stays at the head: the statement is on the backend now.
    }
    this.closeOnCompute(close);
    host.carryOn();
  }

  /** COM_STMT_CLOSE for compute statements no longer cached (no reply comes). */
  private closeOnCompute(ids: number[]): void {
    if (ids.length === 0) return;
    this.host.held!.socket.write(Buffer.concat(ids.map((id) => framePacket(writeComStmtClose(id), 0))));
  }
}
