// Server -> Client, transaction pooling: what of a tracked compute connection's bytes
// reaches the client. The proxy negotiates CLIENT_SESSION_TRACK with the compute
// whatever the client did, so a reply tracker with a SessionStateWatcher reads every OK
// whole and hands a flagged one's session-state block to the watcher; this filter then
// says what to send the client (`output`): the chunk as it came (the usual case, nothing
// copied), or pieces without the replies the proxy sent for itself (`expect(true)`) and
// with flagged OKs rewritten as the client expects them: without session state for a
// client without CLIENT_SESSION_TRACK, with what its own trackers report for one with
// it (tracker-view.ts). A packet that may need rewriting or dropping is held back until
// it ends.
import type { FrameScanner } from './frame-scanner.js';
import { framePacket } from './framing.js';
import type { PacketHead } from './packet-head.js';
import { ProtocolError } from './protocol-error.js';
import { okLayout, withoutSessionState } from './session-state.js';
import { sessionStateAs, type TrackerView } from './tracker-view.js';

/** Who reads the session state of the OKs a tracker sees. */
export interface SessionStateWatcher {
  /** An OK in buf[start, end) whose session-state block begins at `stateAt`; `swallowed`: a reply the proxy sent for itself. */
  onSessionState(buf: Buffer, start: number, end: number, stateAt: number, swallowed: boolean): void;
  /** The client did not negotiate CLIENT_SESSION_TRACK: flagged OKs are rewritten without their session state. */
  readonly strip: boolean;
  /** The client negotiated it: flagged OKs are rewritten to what its own trackers report (null: as they come). */
  readonly view: TrackerView | null;
}

const EMPTY = Buffer.alloc(0);

export class ReplyFilter {
  /** After a push: the pieces to send the client, or null to send the chunk as it came. */
  output: Buffer[] | null = null;
  /** Per pending reply, in order: whether the proxy sent it for itself (its packets go nowhere). */
  private readonly swallow: boolean[] = [];
  private swallowing = 0;
  // Reading an OK whole.
  /** The packet is an OK read whole: a view of the chunk, or `okCopy` when it came in pieces. */
  private okWhole = false;
  private okBuf: Buffer = EMPTY;
  private okAt = 0;
  private okFill = 0;
  private okCopy: Buffer | null = null;
  // What goes to the client.
  /** Bytes of the packet being read (or a header cut short) from earlier chunks, not sent yet. */
  private held: Buffer[] | null = null;
  /** Where the current packet's header began in the chunk, -1: in an earlier one. */
  private packetAt = -1;
  private inPacket = false;
  /** Bytes of the current chunk before this offset are decided (sent or dropped). */
  private sentTo = 0;

  constructor(
    private readonly watcher: SessionStateWatcher,
    private readonly scanner: FrameScanner,
    private readonly head: PacketHead,
  ) {}

  /** As new (ReplyTracker.reset). */
  reset(): void {
    this.output = null;
    if (this.swallow.length !== 0) this.swallow.length = 0;
    this.swallowing = 0;
    this.okWhole = false;
    this.okBuf = EMPTY;
    this.okAt = 0;
    this.okFill = 0;
    this.held = null;
    this.packetAt = -1;
    this.inPacket = false;
    this.sentTo = 0;
  }

  /** One more reply to come; `swallow`: the proxy's own, not the client's. */
  expect(swallow: boolean): void {
    this.swallow.push(swallow);
    if (swallow) this.swallowing++;
  }

  /** The reply being read is the proxy's own. */
  get swallowed(): boolean {
    return this.swallow[0] === true;
  }

  /** A reply ended: true when it was the proxy's own. */
  replyEnded(): boolean {
    if (!this.swallow.shift()) return false;
    this.swallowing--;
    return true;
  }

  /** The packet being read is an OK to read whole. */
  get readingOk(): boolean {
    return this.okWhole;
  }

  chunkStarts(): void {
    this.output = null;
    this.sentTo = 0;
    if (this.inPacket) this.packetAt = -1; // it began in an earlier chunk
  }

  packetStarts(headerAt: number): void {
    this.inPacket = true;
    if (headerAt >= 0 && this.held) this.release(); // a header cut short that began no packet of ours
    this.packetAt = headerAt;
  }

  /** The packet's first bytes say it is an OK that may carry session state: read it whole. */
  okStarts(): void {
    this.okWhole = true;
    this.okFill = 0;
    this.scanner.wantRest();
  }

  okBytes(chunk: Buffer, start: number, end: number): void {
    if (this.okFill === 0) {
      this.okBuf = chunk;
      this.okAt = start;
      this.okFill = end - start;
      return;
    }
    if (this.okBuf === chunk && this.okAt + this.okFill === start) {
      this.okFill += end - start; // the rest of the same chunk (see FrameScanner.wantRest)
      return;
    }
    if (this.okBuf !== this.okCopy) this.copyOk(this.okAt, this.okFill);
    const need = this.okFill + (end - start);
    if (this.okBuf.length < need) {
      const grown = Buffer.allocUnsafe(Math.max(need, 2 * this.okBuf.length));
      this.okBuf.copy(grown, 0, 0, this.okFill);
      this.okBuf = this.okCopy = grown;
    }
    chunk.copy(this.okBuf, this.okFill, start, end);
    this.okFill = need;
  }

  /**
   * The OK read whole (readingOk) ended: its session state to the watcher, and the OK
   * the client should get instead (else null).
   */
  readOk(swallowed: boolean): Buffer | null {
    this.okWhole = false;
    const buf = this.okBuf;
    const start = this.okAt;
    const end = start + this.okFill;
    this.okBuf = EMPTY;
    if (this.okFill !== this.head.length) throw new ProtocolError('OK packet read short');
    const { stateAt } = okLayout(buf, start, end);
    if (stateAt < 0) return null;
    this.watcher.onSessionState(buf, start, end, stateAt, swallowed);
    if (swallowed) return null;
    const { strip, view } = this.watcher;
    if (strip) return withoutSessionState(buf, start, end);
    return view ? sessionStateAs(buf, start, end, stateAt, view) : null;
  }

  /** The packet in chunk[packetAt or earlier, end) is whole: it goes on, is replaced, or is dropped. */
  packetEnds(chunk: Buffer, end: number, sequenceId: number, swallowed: boolean, replacement: Buffer | null): void {
    this.inPacket = false;
    if (!swallowed && replacement === null) {
      if (this.held) this.release();
      return;
    }
    // Up to the packet's start goes on; the packet itself (held parts included) does not.
    const out = (this.output ??= []);
    const start = this.packetAt >= 0 ? this.packetAt : 0;
    if (this.packetAt >= 0 && this.held) this.release();
    this.held = null;
    if (start > this.sentTo) out.push(chunk.subarray(this.sentTo, start));
    if (replacement) out.push(framePacket(replacement, sequenceId));
    this.sentTo = end;
  }

  /** After a chunk: what it sends, and what of it waits for the next one. */
  chunkEnds(chunk: Buffer): void {
    if (this.okWhole && this.okBuf === chunk) this.copyOk(this.okAt, this.okFill);
    let keepFrom = chunk.length;
    if (this.swallowing > 0 || this.watcher.strip || this.watcher.view !== null) {
      // Held: a packet that may yet be dropped or rewritten (its first byte unseen, an OK, the proxy's own), or a header cut short.
      if (this.inPacket && (this.head.fill === 0 || this.okWhole || this.swallow[0] === true)) {
        keepFrom = this.packetAt >= 0 ? this.packetAt : this.sentTo;
      } else if (!this.inPacket && this.scanner.partialHeader > 0) {
        keepFrom = chunk.length - this.scanner.partialHeader;
      }
    }
    if (keepFrom === chunk.length && this.held) this.release();
    if (this.output === null && this.sentTo === 0 && keepFrom === chunk.length) return;
    const out = (this.output ??= []);
    if (keepFrom > this.sentTo) out.push(chunk.subarray(this.sentTo, keepFrom));
    if (keepFrom < chunk.length) (this.held ??= []).push(chunk.subarray(Math.max(keepFrom, this.sentTo)));
  }

  /** The OK seen so far into the filter's own bytes: its chunk is gone after this push. */
  private copyOk(at: number, fill: number): void {
    const length = this.head.length;
    let copy = this.okCopy;
    if (!copy || copy.length < Math.max(fill, length)) copy = this.okCopy = Buffer.allocUnsafe(Math.max(64, length));
    this.okBuf.copy(copy, 0, at, at + fill);
    this.okBuf = copy;
    this.okAt = 0;
  }

  /** Held bytes turned out to go on as they are: before anything of the current chunk. */
  private release(): void {
    const held = this.held!;
    this.held = null;
    const out = (this.output ??= []);
    for (const piece of held) out.push(piece);
  }
}
