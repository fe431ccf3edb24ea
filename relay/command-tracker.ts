// Client -> Server, after login: finds command boundaries in the byte stream without
// copying it, so a session relay can forward chunks as they come and still see each
// command byte and keep COM_QUIT from reaching a pooled backend.
//
// The client sends one command and waits for its reply, and every command packet
// starts with sequence id 0, so a packet whose header says "sequence 0" starts a
// command (the frame scanner never reports a 16 MiB continuation as a packet start).
// Other client packets (auth switch answers inside COM_CHANGE_USER, LOAD DATA LOCAL
// file contents) continue a sequence and are forwarded untouched. Only the header of a
// packet whose first byte is not yet known is held back (at most 4 bytes), and only
// COM_QUIT is ever dropped: the scan stops right after it, and nothing behind it is read.
import { COM_QUIT, FrameScanner, type FrameSink } from '../protocol/index.js';

export interface TrackedChunk {
  /** Bytes to send to the backend, in order (views of the pushed chunks where possible). */
  forward: Buffer[];
  /** Command bytes of the commands that started in this chunk. */
  commands: number[];
  /** The client sent COM_QUIT: it was not forwarded, and nothing after it is. */
  quit: boolean;
}

export class ClientCommandTracker implements FrameSink {
  private readonly scanner = new FrameScanner(this);
  /** A command header was read; its first payload byte decides what it is. */
  private awaitingCommand = false;
  /** Where that header began in the chunk being pushed; -1 when in an earlier chunk (then it is held). */
  private commandAt = -1;
  private commandLength = 0;
  /** Bytes of an undecided header from earlier chunks. */
  private readonly held: Buffer[] = [];
  private quitSeen = false;
  /** The commands array of the push under way. */
  private commands: number[] = NO_COMMANDS;

  get quit(): boolean {
    return this.quitSeen;
  }

  /** Throws ProtocolError when a 16 MiB continuation is out of sequence: the session must end. */
  push(chunk: Buffer): TrackedChunk {
    const forward: Buffer[] = [];
    const commands: number[] = [];
    if (this.quitSeen) return { forward, commands, quit: true };
    this.commands = commands;
    // A command header still undecided from an earlier chunk began before this one.
    this.commandAt = -1;
    this.scanner.scan(chunk); // a throw ends the session, and this tracker with it
    this.commands = NO_COMMANDS;
    if (this.quitSeen) {
      // COM_QUIT's header is dropped with it; only what came before it goes on.
      if (this.commandAt >= 0) {
        this.release(forward);
        if (this.commandAt > 0) forward.push(chunk.subarray(0, this.commandAt));
      }
      this.held.length = 0;
      return { forward, commands, quit: true };
    }
    const holdFrom = this.undecidedFrom(chunk);
    if (holdFrom === -1) {
      // Still the header held since an earlier chunk.
      this.held.push(chunk);
    } else {
      this.release(forward);
      if (holdFrom === chunk.length) {
        forward.push(chunk);
      } else {
        if (holdFrom > 0) forward.push(chunk.subarray(0, holdFrom));
        this.held.push(chunk.subarray(holdFrom));
      }
    }
    return { forward, commands, quit: false };
  }

  /** The stream ended here: ProtocolError if it ended inside a packet. */
  end(): void {
    this.scanner.end('client stream');
  }

  /** A command's first byte is all this tracker reads of any packet. */
  onPacketStart(length: number, sequenceId: number, headerAt: number): number {
    if (sequenceId !== 0 || length === 0) return 0;
    this.awaitingCommand = true;
    this.commandAt = headerAt;
    this.commandLength = length;
    return 1;
  }

  onPayload(chunk: Buffer, start: number): void {
    this.awaitingCommand = false;
    const command = chunk[start]!;
    if (command === COM_QUIT && this.commandLength === 1) this.quitSeen = true;
    else this.commands.push(command);
  }

  /** Stops the scan after COM_QUIT. */
  onPacketEnd(): boolean {
    return this.quitSeen;
  }

  /**
   * Where in `chunk` the bytes not yet known to be forwardable begin: chunk.length when
   * all are, -1 when the whole chunk continues a header held from earlier chunks.
   */
  private undecidedFrom(chunk: Buffer): number {
    const partial = this.scanner.partialHeader;
    if (partial > 0) return partial <= chunk.length ? chunk.length - partial : -1;
    if (this.awaitingCommand) return this.commandAt;
    return chunk.length;
  }

  /** An undecided header turned out to be forwardable: its earlier bytes go first. */
  private release(forward: Buffer[]): void {
    if (this.held.length === 0) return;
    for (const piece of this.held) forward.push(piece);
    this.held.length = 0;
  }
}

/** Stands in for the output array between pushes, so no push's commands are kept. */
const NO_COMMANDS: number[] = [];
