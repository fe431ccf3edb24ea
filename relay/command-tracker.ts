// Client -> Server, after login: finds command boundaries in the byte stream without
// copying it, so a relay can forward chunks as they come and still see each command.
//
// The client sends one command and waits for its reply (or pipelines a few), and every
// command packet starts with sequence id 0, so a packet whose header says "sequence 0"
// starts a command (the frame scanner never reports a 16 MiB continuation as a packet
// start). Other client packets (auth switch answers inside COM_CHANGE_USER, LOAD DATA
// LOCAL file contents) continue a sequence and are passed on untouched.
//
// Bytes go on as views of the chunks they came in; what is held back is:
// - the start of a command whose first bytes are not known yet (a header cut by a
//   chunk's end: at most a few bytes);
// - a command the caller watches (`watch`: a KILL, say), from its header to its end,
//   which is then handed over whole; the caller decides what goes on in its place and
//   scans the rest of the chunk after it;
// - COM_QUIT, with `dropQuit` (pooled connections outlive their clients): dropped, and
//   nothing after it is read.
//
// scan() allocates nothing for chunks that hold no watched command: a pipe relay runs
// every client chunk through it.
import { COM_QUERY, COM_QUIT, FrameScanner, MAX_PAYLOAD_LENGTH, PACKET_HEADER_LENGTH, type FrameSink } from '../protocol/index.js';

/** scan(): everything from `from` on may be passed on (after `released`). */
export const SCAN_PASS_ALL = 0;
/** scan(): pass chunk[from, passEnd) (after `released`); the rest is held here until a later chunk decides it. */
export const SCAN_HOLDING = 1;
/** scan(): pass chunk[from, passEnd) (after `released`), then decide on takeCommand(); chunk[resumeAt..] is not read yet. */
export const SCAN_COMMAND = 2;
/** scan(): pass chunk[from, passEnd) (after `released`); COM_QUIT followed, dropped with everything after it. */
export const SCAN_QUIT = 3;

export type ScanResult = typeof SCAN_PASS_ALL | typeof SCAN_HOLDING | typeof SCAN_COMMAND | typeof SCAN_QUIT;

/** Who a tracker tells about commands: a relay's own object, so a held client costs no closures. */
export interface CommandListener {
  /** Told each command's first byte (but a COM_QUIT the tracker drops). */
  onCommand(command: number): void;
  /**
   * Whether to hold a command whole: its command byte, the byte after it for a
   * COM_QUERY (-1: none, or another command) and its length.
   */
  watches(command: number, first: number, length: number): boolean;
}

/** A watched command, whole. */
export interface HeldCommand {
  /** Its bytes as they came, headers included: what to send on if it passes. */
  raw: Buffer;
  /** Its payload (continuations joined), command byte first. */
  payload: Buffer;
}

/** push()'s answer: the older API, for tests and the frame-reader micro-benchmark. */
export interface TrackedChunk {
  /** Bytes to send to the backend, in order (views of the pushed chunks where possible). */
  forward: Buffer[];
  /** Command bytes of the commands that started in this chunk. */
  commands: number[];
  /** The client sent COM_QUIT: it was not forwarded, and nothing after it is. */
  quit: boolean;
}

const NONE = 0;
const STOP_QUIT = 1;
const STOP_COMMAND = 2;

export class ClientCommandTracker implements FrameSink {
  /**
   * Bytes held from earlier chunks that turned out passable: send them before this
   * chunk's, and set it back to null. Null when there are none (the usual case).
   */
  released: Buffer[] | null = null;
  /** After scan(): pass the chunk's bytes up to here. */
  passEnd = 0;
  /** After SCAN_COMMAND: where the unread rest of the chunk starts. */
  resumeAt = 0;

  private readonly scanner = new FrameScanner(this);
  /** Bytes of the current command from earlier chunks (its header, or all of it while collecting). */
  private held: Buffer[] | null = null;
  private command: HeldCommand | null = null;
  private quitSeen = false;
  private stop = NONE;
  /** Where the current packet's header began in the chunk being scanned; -1: in an earlier one. */
  private headerAt = -1;
  // The command being looked at: undecided until its first two bytes are seen.
  private deciding = false;
  private collecting = false;
  private quitting = false;
  private commandByte = -1;
  private firstByte = -1;
  private seen = 0;
  private length = 0;
  /** push()'s list of commands, while a push runs. */
  private log: number[] | null = null;

  /**
   * `dropQuit`: drop COM_QUIT and read nothing after it (pooled connections outlive
   * their clients). Without a listener no command is held whole.
   */
  constructor(
    private readonly listener: CommandListener | null = null,
    private readonly dropQuit = true,
  ) {}

  get quit(): boolean {
    return this.quitSeen;
  }

  /** Between packets: nothing of a packet is held here or was passed on without its end. */
  get atBoundary(): boolean {
    return this.scanner.atBoundary;
  }

  /**
   * Reads chunk[from..]; see the SCAN_* results for what to pass on. Throws
   * ProtocolError when a 16 MiB continuation is out of sequence: the session must end.
   */
  scan(chunk: Buffer, from = 0): ScanResult {
    this.passEnd = from;
    this.resumeAt = chunk.length;
    if (this.quitSeen) return SCAN_QUIT;
    this.headerAt = -1;
    this.stop = NONE;
    const at = this.scanner.scan(chunk, from); // a throw ends the session, and this tracker with it
    const start = this.headerAt >= 0 ? this.headerAt : from;
    if (this.stop === STOP_QUIT) {
      // COM_QUIT's header goes with it; only what came before it goes on.
      this.held = null;
      this.passEnd = start;
      this.resumeAt = at;
      this.quitSeen = true;
      return SCAN_QUIT;
    }
    if (this.stop === STOP_COMMAND) {
      const tail = chunk.subarray(start, at);
      const raw = this.held === null ? tail : Buffer.concat([...this.held, tail]);
      this.held = null;
      this.command = { raw, payload: payloadOf(raw) };
      this.passEnd = start;
      this.resumeAt = at;
      return SCAN_COMMAND;
    }
    if (this.deciding || this.collecting) return this.hold(chunk, start);
    const partial = this.scanner.partialHeader;
    // A header cut at the chunk's end may start a command. If it began in an earlier
    // chunk, its start is held already.
    if (partial > chunk.length - from) return this.hold(chunk, from);
    // Otherwise what is held was a continuation's header, decided on by nothing: it goes on.
    this.release();
    if (partial > 0) return this.hold(chunk, chunk.length - partial);
    this.passEnd = chunk.length;
    return SCAN_PASS_ALL;
  }

  /** The command SCAN_COMMAND stopped at. */
  takeCommand(): HeldCommand {
    const command = this.command;
    if (!command) throw new Error('no command is held');
    this.command = null;
    return command;
  }

  /** The older API: what to forward, as a list. No command is watched. */
  push(chunk: Buffer): TrackedChunk {
    const forward: Buffer[] = [];
    const commands: number[] = [];
    this.log = commands;
    let result: ScanResult;
    try {
      result = this.scan(chunk);
    } finally {
      this.log = null;
    }
    for (const piece of this.released ?? []) forward.push(piece);
    this.released = null;
    if (result === SCAN_PASS_ALL) forward.push(chunk);
    else if (this.passEnd > 0) forward.push(chunk.subarray(0, this.passEnd));
    return { forward, commands, quit: result === SCAN_QUIT };
  }

  /** The stream ended here: ProtocolError if it ended inside a packet. */
  end(): void {
    this.scanner.end('client stream');
  }

  onPacketStart(length: number, sequenceId: number, headerAt: number): number {
    this.headerAt = headerAt;
    // A header begun in this chunk: whatever is held belongs to an earlier packet (a
    // continuation's header cut by the last chunk) and goes on. Not a command: neither
    // does a held start of this one.
    if (headerAt >= 0 || sequenceId !== 0 || length === 0) this.release();
    if (sequenceId !== 0 || length === 0) return 0;
    this.deciding = true;
    this.commandByte = -1;
    this.firstByte = -1;
    this.seen = 0;
    this.length = length;
    return this.listener ? 2 : 1;
  }

  onPayload(chunk: Buffer, start: number, end: number): void {
    for (let i = start; i < end; i++) {
      if (this.seen++ === 0) this.commandByte = chunk[i]!;
      else this.firstByte = chunk[i]!;
    }
    // A watch reads a statement's first character too; any other command is known by its byte.
    if (this.deciding && (this.seen >= 2 || !this.listener || this.commandByte !== COM_QUERY)) this.decide();
  }

  onPacketEnd(): boolean {
    if (this.deciding) this.decide();
    if (this.quitting) {
      this.quitting = false;
      this.stop = STOP_QUIT;
      return true;
    }
    if (this.collecting) {
      this.collecting = false;
      this.stop = STOP_COMMAND;
      return true;
    }
    return false;
  }

  private decide(): void {
    this.deciding = false;
    const command = this.commandByte;
    if (command === COM_QUIT && this.length === 1 && this.dropQuit) {
      this.quitting = true;
      return;
    }
    this.log?.push(command);
    const listener = this.listener;
    if (!listener) return this.release();
    listener.onCommand(command);
    if (listener.watches(command, this.firstByte, this.length)) {
      this.collecting = true;
      return;
    }
    this.release();
  }

  /** Keep chunk[start..] for a later chunk to decide. */
  private hold(chunk: Buffer, start: number): ScanResult {
    this.passEnd = start;
    if (start < chunk.length) (this.held ??= []).push(start === 0 ? chunk : chunk.subarray(start));
    return SCAN_HOLDING;
  }

  private release(): void {
    const held = this.held;
    if (held === null) return;
    this.held = null;
    if (this.released === null) this.released = held;
    else for (const piece of held) this.released.push(piece);
  }
}

/** A packet's payload from its raw bytes, headers of continuations removed. */
function payloadOf(raw: Buffer): Buffer {
  const fragment = PACKET_HEADER_LENGTH + MAX_PAYLOAD_LENGTH;
  if (raw.length < fragment) return raw.subarray(PACKET_HEADER_LENGTH);
  const pieces: Buffer[] = [];
  for (let at = 0; at < raw.length; at += fragment) pieces.push(raw.subarray(at + PACKET_HEADER_LENGTH, at + fragment));
  return Buffer.concat(pieces);
}
