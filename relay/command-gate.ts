// Client -> Server for the relays that stream (pipe and session pooling): client
// bytes go on as they come, through a command tracker that holds back the few
// commands the proxy answers (intercepted-command.ts) until it has decided what
// goes in their place. Everything a held command turns into is a command for the
// compute (the rewritten KILL; `DO 0` for an OK, SIGNAL for an error), so replies
// reach the client in order and with the compute's own status flags even when the
// client pipelines; a streaming relay never writes a reply itself.
//
// While a KILL is being decided (the proxy may ask another proxy), the client is
// paused and what it sent after the KILL waits here.
import { COM_QUIT, framePacket } from '../protocol/index.js';
import {
  ClientCommandTracker,
  SCAN_COMMAND,
  SCAN_PASS_ALL,
  SCAN_QUIT,
  type CommandListener,
  type HeldCommand,
} from './command-tracker.js';
import { interceptCommand, mayIntercept, type KillAction, type KillHook } from './intercepted-command.js';
import { settleConnectionId, settleKill, type Disposal } from './command-answers.js';

/** What the gate needs of its relay. */
export interface GateSide {
  /** Bytes for the compute; false: it backs up (the relay pauses the client until it drains). */
  toCompute(bytes: Buffer): boolean;
  pauseClient(): void;
  /** Read the client again, unless the compute is backed up (its drain resumes it then). */
  resumeClient(): void;
  /** The client sent COM_QUIT (only with dropQuit): nothing after it is read. */
  quit(): void;
  /** The client's stream is out of step (a continuation out of sequence): the session ends. */
  broken(): void;
}

export interface GateOptions {
  /** Drop COM_QUIT (pooled connections outlive their clients). */
  dropQuit: boolean;
  /** Pooled modes: a bare SELECT CONNECTION_ID() is answered with `sessionId`. */
  pooled: boolean;
  /** The id the client was given: the greeting's. */
  sessionId: number;
  /** Decides KILLs; without one they pass untouched. */
  hook?: KillHook;
  /** Told each command's byte (COM_CHANGE_USER makes a pooled connection unfit for reuse). */
  onCommand?(command: number): void;
}

/** Stands in for a KILL decision that failed unexpectedly (a bug): the client gets an error, never a raw KILL. */
const INTERNAL: KillAction = {
  kind: 'error',
  error: { code: 1105, sqlState: 'HY000', message: 'wake-proxy: could not carry out this KILL; see the proxy log' },
};

export class CommandGate implements CommandListener {
  private readonly tracker: ClientCommandTracker;
  private readonly pooled: boolean;
  private readonly sessionId: number;
  private readonly hook: KillHook | undefined;
  private readonly commandSeen: ((command: number) => void) | undefined;
  /** A command went to the compute and nothing came back since: it may be running. */
  private awaiting = false;
  private lastCommand = -1;
  /** Set while a KILL is being decided; chunks that arrive meanwhile wait in `waiting`. */
  private deciding = false;
  private waiting: Buffer[] | null = null;
  private closed = false;

  // Fields, not the options object: a held client keeps only what it needs.
  constructor(
    private readonly side: GateSide,
    o: GateOptions,
  ) {
    this.pooled = o.pooled;
    this.sessionId = o.sessionId;
    this.hook = o.hook;
    this.commandSeen = o.onCommand;
    this.tracker = new ClientCommandTracker(this, o.dropQuit);
  }

  onCommand(command: number): void {
    this.awaiting = true;
    this.lastCommand = command;
    this.commandSeen?.(command);
  }

  watches(command: number, first: number, length: number): boolean {
    return (this.hook !== undefined || this.pooled) && mayIntercept(command, first, length, this.pooled);
  }

  /**
   * Whether the compute may be running a statement for the client: a command went
   * and no reply has started. A client that pipelines may leave with a later command
   * running after the first reply began: not seen here (the compute notices the close
   * itself, at its next write or liveness check).
   */
  get statementRunning(): boolean {
    return this.awaiting && this.lastCommand !== COM_QUIT;
  }

  /** The client's stream is between packets (a FIN here cuts no command short). */
  get atBoundary(): boolean {
    return this.tracker.atBoundary;
  }

  /** A KILL is being decided: the client stays paused, whatever drains. */
  get holding(): boolean {
    return this.deciding;
  }

  /** The compute sent bytes: a reply is under way. */
  replied(): void {
    this.awaiting = false;
  }

  /** The relay ended: decisions still under way send nothing. */
  close(): void {
    this.closed = true;
    this.waiting = null;
  }

  push(chunk: Buffer): void {
    if (this.deciding) {
      (this.waiting ??= []).push(chunk);
      return;
    }
    this.scan(chunk, 0);
  }

  private scan(chunk: Buffer, from: number): void {
    const t = this.tracker;
    let flowing = true;
    for (;;) {
      let result;
      try {
        result = t.scan(chunk, from);
      } catch {
        return this.side.broken();
      }
      const released = t.released;
      if (released !== null) {
        for (const piece of released) flowing = this.side.toCompute(piece);
        t.released = null;
      }
      if (result === SCAN_PASS_ALL) {
        if (from < chunk.length) flowing = this.side.toCompute(from === 0 ? chunk : chunk.subarray(from));
        break;
      }
      if (t.passEnd > from) flowing = this.side.toCompute(chunk.subarray(from, t.passEnd));
      if (result === SCAN_QUIT) return this.side.quit();
      if (result !== SCAN_COMMAND) break;
      const decided = this.decide(t.takeCommand());
      from = t.resumeAt;
      if (decided !== null) {
        flowing = this.side.toCompute(decided);
        continue;
      }
      // A KILL to decide: the rest of the chunk waits for the answer.
      if (from < chunk.length) (this.waiting ??= []).unshift(chunk.subarray(from));
      return;
    }
    if (!flowing) this.side.pauseClient();
  }

  /** The bytes that go in a held command's place, or null while a KILL is decided (sent on when it is). */
  private decide(held: HeldCommand): Buffer | null {
    const what = interceptCommand(held.payload, this.pooled);
    if (!what) return held.raw;
    if (what.kind === 'connection_id') return bytesFor(settleConnectionId(what.query, this.sessionId, null), held);
    if (what.kind === 'refuse') return bytesFor(settleKill({ kind: 'error', error: what.error }, null), held);
    if (!this.hook) return held.raw;
    let action: KillAction | Promise<KillAction>;
    try {
      action = this.hook.kill(what.kill);
    } catch {
      action = INTERNAL;
    }
    if (!(action instanceof Promise)) return bytesFor(settleKill(action, null), held);
    this.deciding = true;
    this.side.pauseClient();
    action.catch(() => INTERNAL).then((a) => this.decided(bytesFor(settleKill(a, null), held)));
    return null;
  }

  private decided(bytes: Buffer): void {
    this.deciding = false;
    if (this.closed) return;
    this.side.toCompute(bytes);
    // What the client sent meanwhile, in order; it may hold another KILL.
    while (!this.deciding && !this.closed && this.waiting && this.waiting.length > 0) this.scan(this.waiting.shift()!, 0);
    if (!this.deciding && !this.closed) this.side.resumeClient();
  }
}

/** A streaming relay never replies itself: every answer is a command for the compute. */
function bytesFor(d: Disposal, held: HeldCommand): Buffer {
  if (d.kind === 'replace') return framePacket(d.payload, 0);
  if (d.kind === 'pass') return held.raw;
  throw new Error('a streaming relay cannot write a reply itself');
}
