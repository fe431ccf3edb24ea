// The transaction relay's side of the commands that carry the session's id rather than
// a compute's (intercepted-command.ts): KILL and a bare SELECT CONNECTION_ID(). At the
// head of the client's queue such a command is answered here, replaced by what the
// compute should run in its place, or let through as it is. Holding no backend, the
// session writes the answer itself where it can (no wake); holding one, the compute
// answers a statement in order, with its own status flags (command-answers.ts). A KILL
// the proxy decides asynchronously holds the queue meanwhile.
import type { Packet } from '../protocol/index.js';
import type { PooledBackend } from '../pool/pooled-backend.js';
import { idleStatus, settleConnectionId, settleKill, settleRefusal, type Disposal, type ReplyContext } from './command-answers.js';
import { interceptCommand, mayIntercept, type KillAction, type KillHook } from './intercepted-command.js';

export interface InterceptOptions {
  /** The id the client was given: a bare SELECT CONNECTION_ID() answers it. */
  sessionId: number;
  /** Decides KILLs; without one they pass untouched. */
  hook?: KillHook;
  /** What the client negotiated (answers written here are in its terms). */
  capabilities: number;
  mariadbCapabilities: number;
}

/** What interception needs of its relay. */
export interface InterceptHost {
  /** The client's queue of whole packets; the head is the command being decided. */
  readonly queue: Packet[];
  readonly held: PooledBackend | null;
  /** The status flags of the last reply: what the session's own answers build on. */
  readonly lastStatus: number;
  readonly ended: boolean;
  toClient(bytes: Buffer): void;
  pauseClient(): void;
  /** A KILL decided asynchronously was dealt with: read the client again, go on with the queue. */
  decided(): void;
  /** The session killed itself: it ends. */
  terminate(): void;
}

/** Stands in for a KILL decision that failed unexpectedly (a bug): the client gets an error, never a raw KILL. */
const KILL_FAILED: KillAction = {
  kind: 'error',
  error: { code: 1105, sqlState: 'HY000', message: 'wake-proxy: could not carry out this KILL; see the proxy log' },
};

export class InterceptRelay {
  /** Set while a KILL is being decided: the queue waits. */
  deciding = false;
  /** The queued packet already looked at for interception (it goes on as it is). */
  private vetted: Packet | null = null;

  constructor(
    private readonly host: InterceptHost,
    private readonly opts: InterceptOptions,
  ) {}

  /** Whether command `p` at the queue's head must be looked at before it goes. */
  wants(p: Packet, command: number): boolean {
    return p !== this.vetted && mayIntercept(command, p.payload[1] ?? -1, p.payload.length, true, true);
  }

  /**
   * A command that may carry the session's id, at the head of the queue: answered here,
   * replaced by what the compute should run instead, or let through (vetted).
   */
  intercept(p: Packet): void {
    const what = interceptCommand(p.payload, true);
    if (!what) {
      this.vetted = p;
      return;
    }
    if (what.kind === 'connection_id') return this.dispose(p, settleConnectionId(what.query, this.opts.sessionId, this.replyContext(p)));
    if (what.kind !== 'kill') return this.dispose(p, settleRefusal(what, this.replyContext(p)));
    let action: KillAction | Promise<KillAction>;
    try {
      action = this.opts.hook ? this.opts.hook.kill(what.kill) : { kind: 'pass' };
    } catch {
      action = KILL_FAILED;
    }
    if (!(action instanceof Promise)) return this.dispose(p, settleKill(action, this.replyContext(p)));
    this.deciding = true;
    this.host.pauseClient();
    void action
      .catch(() => KILL_FAILED)
      .then((a) => {
        this.deciding = false;
        if (this.host.ended) return;
        // Whether a backend is held is known only now: a reply may have let one go meanwhile.
        this.dispose(p, settleKill(a, this.replyContext(p)));
        this.host.decided();
      });
  }

  /** Holding no backend, the session writes replies itself; holding one, the compute answers (order, status flags). */
  private replyContext(p: Packet): ReplyContext | null {
    if (this.host.held) return null;
    const { capabilities, mariadbCapabilities } = this.opts;
    return { capabilities, mariadbCapabilities, statusFlags: idleStatus(this.host.lastStatus), sequenceId: p.sequenceId };
  }

  private dispose(p: Packet, d: Disposal): void {
    const { host } = this;
    if (d.kind === 'pass') {
      this.vetted = p;
    } else if (d.kind === 'replace') {
      // The queue's head becomes the new command, already vetted.
      const q: Packet = { sequenceId: 0, payload: d.payload };
      host.queue[0] = q;
      this.vetted = q;
    } else {
      host.queue.shift();
      host.toClient(d.bytes);
      if (d.end) host.terminate();
    }
  }
}
