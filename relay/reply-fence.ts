// Server -> Client, once the client has said COM_QUIT on a pooled connection whose
// replies the relay does not track (session pooling, a pinned transaction-pooled
// session): the client's last commands may still be answering, and MariaDB answers
// them before it closes. The relay cannot tell where those replies end without
// parsing every reply, so it asks the compute to mark the spot: a statement whose
// whole reply is known to the byte in advance, an ERR carrying a random token
// (`SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = '<token>'`). The compute answers
// commands in order, so the client's replies are exactly the bytes before that ERR;
// the token cannot occur in them by chance (128 random bits, made after the client's
// commands were sent). The fence's own reply never reaches the client, and the
// connection is left at a command boundary, fit to be reset and lent again.
//
// Bytes go on as they come, but for the last few (the fence's length less one),
// held back until the next chunk says whether they start the fence's reply.
import { randomBytes } from 'node:crypto';
import { CLIENT_PROTOCOL_41, COM_QUERY, framePacket, writeErrPacket } from '../protocol/index.js';

/** MariaDB's code for an error raised with SIGNAL (ER_SIGNAL_EXCEPTION). */
const SIGNAL_EXCEPTION = 1644;

const EMPTY = Buffer.alloc(0);
const COM_QUERY_BYTE = Buffer.from([COM_QUERY]);

export class ReplyFence {
  /** What to write to the compute after the client's last command (a COM_QUERY, sequence 0). */
  readonly command: Buffer;
  /** The fence's whole reply, header included. */
  private readonly reply: Buffer;
  private held: Buffer = EMPTY;
  private seen = false;

  constructor() {
    const token = `wake-proxy quit fence ${randomBytes(16).toString('hex')}`;
    const sql = Buffer.from(`SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = '${token}'`, 'latin1');
    this.command = framePacket(Buffer.concat([COM_QUERY_BYTE, sql]), 0);
    const err = writeErrPacket({ code: SIGNAL_EXCEPTION, sqlState: '45000', message: token }, CLIENT_PROTOCOL_41);
    this.reply = framePacket(err, 1);
  }

  /** The fence's reply has arrived: every reply before it went to the client. */
  get done(): boolean {
    return this.seen;
  }

  /**
   * Server bytes in order; returns what of them (and of those held before) goes to the
   * client now. After the fence's reply nothing more is expected.
   */
  push(chunk: Buffer): Buffer {
    if (this.seen) return EMPTY;
    const data = this.held.length === 0 ? chunk : Buffer.concat([this.held, chunk]);
    const n = this.reply.length;
    if (data.length >= n && data.subarray(data.length - n).equals(this.reply)) {
      this.seen = true;
      this.held = EMPTY;
      return data.subarray(0, data.length - n);
    }
    const keep = Math.min(data.length, n - 1);
    // A copy: the chunk's buffer may be reused by whoever read it.
    this.held = Buffer.from(data.subarray(data.length - keep));
    return data.subarray(0, data.length - keep);
  }

  /** What is held back, for a stream that ended without the fence's reply (it was the client's). */
  rest(): Buffer {
    const held = this.held;
    this.held = EMPTY;
    return held;
  }
}
