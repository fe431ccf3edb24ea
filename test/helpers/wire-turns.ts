// A bare client for tests where clients take turns: one COM_QUERY at a time, its whole
// reply read before the next (OK, ERR, result sets, more results), every byte kept for a
// comparison at the end.
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { CLIENT_DEPRECATE_EOF, COM_QUIT, EOF_HEADER, ERR_HEADER, OK_HEADER, PacketFramer, SERVER_MORE_RESULTS_EXISTS, okLayout, type Packet } from '../../protocol/index.js';
import { command, sql } from './wire-packets.js';
import { wireSession, type WireLogin } from './wire-login.js';

/** A logged-in bare client that sends one COM_QUERY at a time and reads its whole reply. */
export class TurnClient {
  private readonly framer = new PacketFramer(1 << 24);
  private readonly queue: Packet[] = [];
  private wake: (() => void) | null = null;
  /** Every reply byte, in order. */
  readonly received: Buffer[] = [];

  private constructor(private readonly socket: Socket, private readonly deprecateEof: boolean) {
    socket.on('data', (chunk: Buffer) => {
      this.received.push(chunk);
      this.queue.push(...this.framer.push(chunk));
      this.wake?.();
    });
    socket.resume();
  }

  /** Logs in as `app` (`login` chooses the rest: its capabilities say whether result sets end with an EOF). */
  static async connect(port: number, login: Partial<WireLogin> = {}): Promise<TurnClient> {
    const { outcome, socket } = await wireSession({ port, user: Buffer.from('app'), password: 'app-secret', ...login });
    assert.equal(outcome.kind, 'ok', JSON.stringify(outcome));
    return new TurnClient(socket, ((login.capabilities ?? 0) & CLIENT_DEPRECATE_EOF) !== 0);
  }

  private async next(): Promise<Buffer> {
    const deadline = Date.now() + 10_000;
    while (this.queue.length === 0) {
      if (Date.now() > deadline || this.socket.destroyed) throw new Error('TurnClient: no reply in time');
      await new Promise<void>((r) => {
        this.wake = r;
        setTimeout(r, 50);
      });
      this.wake = null;
    }
    return this.queue.shift()!.payload;
  }

  /** Sends `text` and reads its reply (OK, ERR, or result sets) to its end. */
  async query(text: string): Promise<void> {
    this.socket.write(sql(text));
    for (;;) {
      let end = await this.next();
      if (end[0] === ERR_HEADER) return;
      if (end[0] !== OK_HEADER) {
        // A result set: column count, definitions, an EOF unless deprecated, rows to an EOF or OK (0xfe).
        const columns = end[0]!;
        for (let i = 0; i < columns; i++) await this.next();
        if (!this.deprecateEof) await this.next();
        do end = await this.next();
        while (end[0] !== EOF_HEADER || end.length >= 0xffffff);
      }
      const status = end[0] === EOF_HEADER && end.length === 5 ? end.readUInt16LE(3) : end.readUInt16LE(okLayout(end, 0, end.length).statusAt);
      if (!(status & SERVER_MORE_RESULTS_EXISTS)) return;
    }
  }

  async quit(): Promise<Buffer> {
    const closed = new Promise((r) => this.socket.once('close', r));
    this.socket.write(command(COM_QUIT));
    await closed;
    return Buffer.concat(this.received);
  }
}
