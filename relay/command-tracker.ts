// Client -> Server, after login: finds command boundaries in the byte stream without
// copying it, so a session relay can forward chunks as they come and still see each
// command byte and keep COM_QUIT from reaching a pooled backend.
//
// The client sends one command and waits for its reply, and every command packet
// starts with sequence id 0, so a packet whose header says "sequence 0" and which does
// not continue a 16 MiB fragment chain starts a command. Other client packets (auth
// switch answers inside COM_CHANGE_USER, LOAD DATA LOCAL file contents) continue a
// sequence and are forwarded untouched. Only the header of a packet whose first byte is
// not yet known is held back (at most 4 bytes), and only COM_QUIT is ever dropped.
import { COM_QUIT, MAX_PAYLOAD_LENGTH, PACKET_HEADER_LENGTH } from '../protocol/index.js';

export interface TrackedChunk {
  /** Bytes to send to the backend, in order (views of the pushed chunks where possible). */
  forward: Buffer[];
  /** Command bytes of the commands that started in this chunk. */
  commands: number[];
  /** The client sent COM_QUIT: it was not forwarded, and nothing after it is. */
  quit: boolean;
}

export class ClientCommandTracker {
  private readonly header = Buffer.alloc(PACKET_HEADER_LENGTH);
  private headerFill = 0;
  /** Payload bytes left in the current fragment; -1 while reading a header. */
  private fragmentLeft = -1;
  /** The last fragment was 0xffffff bytes long, so the next one continues its packet. */
  private continuing = false;
  /** A command header was read; its first payload byte decides what it is. */
  private awaitingCommand = false;
  /** Bytes of an undecided header from earlier chunks. */
  private held: Buffer[] = [];
  private quitSeen = false;

  get quit(): boolean {
    return this.quitSeen;
  }

  push(chunk: Buffer): TrackedChunk {
    const forward: Buffer[] = [];
    const commands: number[] = [];
    if (this.quitSeen) return { forward, commands, quit: true };
    /** Where the undecided header starts in this chunk; -1 when it began earlier (or none). */
    let holdFrom = -1;
    let pos = 0;
    while (pos < chunk.length) {
      if (this.fragmentLeft < 0) {
        if (this.headerFill === 0) holdFrom = pos;
        const n = Math.min(PACKET_HEADER_LENGTH - this.headerFill, chunk.length - pos);
        chunk.copy(this.header, this.headerFill, pos, pos + n);
        this.headerFill += n;
        pos += n;
        if (this.headerFill < PACKET_HEADER_LENGTH) break;
        this.headerFill = 0;
        const length = this.header.readUIntLE(0, 3);
        const startsCommand = !this.continuing && this.header[3] === 0;
        this.continuing = length === MAX_PAYLOAD_LENGTH;
        this.fragmentLeft = length === 0 ? -1 : length;
        if (startsCommand && length > 0) {
          this.awaitingCommand = true;
        } else {
          this.release(forward);
          holdFrom = -1;
        }
        continue;
      }
      if (this.awaitingCommand) {
        this.awaitingCommand = false;
        const command = chunk[pos]!;
        if (command === COM_QUIT && this.fragmentLeft === 1) {
          if (holdFrom > 0) forward.push(chunk.subarray(0, holdFrom));
          this.held = [];
          this.quitSeen = true;
          return { forward, commands, quit: true };
        }
        commands.push(command);
        this.release(forward);
        holdFrom = -1;
      }
      const n = Math.min(this.fragmentLeft, chunk.length - pos);
      pos += n;
      this.fragmentLeft -= n;
      if (this.fragmentLeft === 0) this.fragmentLeft = -1;
    }
    const undecided = this.headerFill > 0 || this.awaitingCommand;
    if (!undecided) {
      forward.push(chunk);
    } else if (holdFrom >= 0) {
      if (holdFrom > 0) forward.push(chunk.subarray(0, holdFrom));
      this.held.push(chunk.subarray(holdFrom));
    } else {
      this.held.push(chunk);
    }
    return { forward, commands, quit: false };
  }

  /** An undecided header turned out to be forwardable: its earlier bytes go first. */
  private release(forward: Buffer[]): void {
    if (this.held.length === 0) return;
    forward.push(...this.held);
    this.held = [];
  }
}
