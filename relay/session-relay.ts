// Session pooling's relay: a client holds one pooled backend for its lifetime. Bytes
// from the backend go to the client untouched; bytes from the client go through a
// command tracker, which keeps the client's COM_QUIT from closing the backend, so the
// backend can be reset and handed to the next client. The client's COM_QUIT is
// answered as MariaDB answers it: after the replies to everything it sent before (in
// the same write, or pipelined). Where those end is counted by a reply tracker while
// the client sends only commands whose replies it reads (`follow`: queries, pings,
// COM_INIT_DB, COM_RESET_CONNECTION, a KILL), so a client that waited for its last
// reply quits at once; after any other command (prepared statements, COM_CHANGE_USER,
// ...) or a reply the tracker cannot read, a reply fence marks the end (reply-fence.ts):
// one more round trip to the compute.
//
// The client's own commands:
// - COM_RESET_CONNECTION: forwarded; the backend resets, nothing to track.
// - COM_CHANGE_USER: forwarded as is. MariaDB answers it with an auth switch carrying a
//   fresh scramble (checked against mariadbd 10.11), so the client's answer is judged by
//   the compute whatever scramble the client used first. Afterwards the backend may be
//   logged in as someone else, so it is not reusable: it is destroyed on release.
// - A client whose connection resets or fails without COM_QUIT may have left a
//   transaction, a half-read result or a half-sent packet: not reusable either.
// Reusable therefore means exactly: the client said COM_QUIT (or half-closed, below) at a
// command boundary and never changed user. The reset on release still checks the stream
// is in step.
//
// A client that half-closes (FIN) after its last command has said goodbye as with
// COM_QUIT: it is answered up to a fence the same way, then closed (client-fin.ts).
//
// KILL and a bare SELECT CONNECTION_ID() carry the session's id, not the compute's:
// they are rewritten on their way (command-gate.ts).
import type { Socket } from 'node:net';
import { COM_CHANGE_USER, COM_INIT_DB, COM_PING, COM_PROCESS_KILL, COM_QUERY, COM_RESET_CONNECTION, ReplyTracker } from '../protocol/index.js';
import { divert, undivert } from '../backend/backend-socket.js';
import { endAfterSession } from '../socket/socket-ends.js';
import { CommandGate } from './command-gate.js';
import type { KillHook } from './intercepted-command.js';
import { ReplyFence } from './reply-fence.js';
import { finStep } from './client-fin.js';

export type SessionEnd =
  | 'client_quit'
  | 'client_closed'
  | 'client_error'
  | 'backend_closed'
  | 'backend_error'
  | 'terminated';

export interface SessionOutcome {
  end: SessionEnd;
  /** Release with { dirty: !reusable }. */
  reusable: boolean;
  changedUser: boolean;
  /** Commands the client sent, COM_QUIT not counted. */
  commands: number;
  /**
   * Client bytes went to the compute: a command, or a packet that counts as none (empty,
   * or out of sequence) whose answer may still be on its way. False: the compute
   * connection is as it was lent.
   */
  forwarded: boolean;
  /** The client left while the compute may be running its statement: stop it before the connection goes anywhere. */
  statementRunning: boolean;
}

export interface SessionRelayOptions {
  /** Aborting ends the session ('terminated'), e.g. at proxy shutdown. */
  signal?: AbortSignal;
  /** The id the client was given: a bare SELECT CONNECTION_ID() answers it. Without it, such queries pass. */
  sessionId?: number;
  /** Decides KILLs; without one they pass untouched. */
  hook?: KillHook;
  /**
   * Follow the compute's replies (what the backend connection negotiated), so a COM_QUIT
   * sent after the last reply needs no fence. Without it every quit after a command
   * raises one.
   */
  follow?: { capabilities: number; mariadbCapabilities: number };
}

/** Commands whose replies a ReplyTracker reads (an OK, an ERR or a text result); a KILL becomes a query. */
function followed(command: number): boolean {
  return command === COM_QUERY || command === COM_PING || command === COM_INIT_DB || command === COM_RESET_CONNECTION || command === COM_PROCESS_KILL;
}

function noReply(): void {}

/**
 * Relay until the client quits or either side goes away. The client socket is ended
 * (or destroyed) when the relay returns; the backend socket is left open and paused,
 * with the relay's listeners removed, for the pool to reset or destroy.
 */
export function relaySession(
  client: Socket,
  clientLeftover: Buffer,
  backend: { socket: Socket },
  opts: SessionRelayOptions = {},
): Promise<SessionOutcome> {
  const server = backend.socket;
  let changedUser = false;
  let commands = 0;
  let forwarded = false;
  // Null once the client sent a command it does not follow, or replies it could not read.
  let replies: ReplyTracker | null = opts.follow
    ? new ReplyTracker(opts.follow.capabilities, opts.follow.mariadbCapabilities, 0, noReply)
    : null;
  // The client said COM_QUIT with replies still due (followed): it ends once they are relayed.
  let quitting = false;

  return new Promise<SessionOutcome>((resolve) => {
    let ended = false;
    // A FIN while a KILL is decided waits for it: the KILL goes first.
    let finPending = false;
    const end = (why: SessionEnd) => {
      if (ended) return;
      ended = true;
      gate.close();
      client.off('data', fromClient);
      client.off('drain', resumeServer);
      client.off('end', onClientEnd);
      client.off('close', onClientClose);
      client.off('error', onClientError);
      if (diverted) undivert(server);
      else server.off('data', fromServer);
      server.off('drain', resumeClient);
      server.off('close', onServerClose);
      server.off('error', onServerError);
      server.pause();
      opts.signal?.removeEventListener('abort', onAbort);
      // The client keeps an error listener: its socket may still fail while closing.
      client.on('error', ignore);
      const gone = why === 'client_closed' || why === 'client_error';
      if (gone) client.destroy();
      else endAfterSession(client, why === 'client_quit');
      const statementRunning = gone && (replies ? replies.pending > 0 : gate.statementRunning);
      resolve({ end: why, reusable: why === 'client_quit' && !changedUser, changedUser, commands, forwarded, statementRunning });
    };

    const gate = new CommandGate(
      {
        toCompute: (bytes) => {
          forwarded = true;
          return server.write(bytes);
        },
        pauseClient: () => client.pause(),
        resumeClient: () => {
          if (finPending) onClientEnd();
          if (!ended && !server.writableNeedDrain) client.resume();
        },
        quit: () => fenceReplies(),
        broken: () => end('client_error'),
      },
      {
        dropQuit: true,
        pooled: opts.sessionId !== undefined,
        sessionId: opts.sessionId ?? 0,
        ...(opts.hook ? { hook: opts.hook } : {}),
        onCommand: (command) => {
          commands++;
          if (command === COM_CHANGE_USER) changedUser = true;
          if (!replies) return;
          if (followed(command)) replies.expect();
          else replies = null;
        },
      },
    );
    // Set once the client said COM_QUIT: its last replies are relayed up to the fence's (reply-fence.ts).
    let fence: ReplyFence | null = null;
    const fenceReplies = () => {
      if (fence || ended || quitting) return;
      // A client that sent nothing, or got every reply, has nothing pending.
      if (commands === 0 || (replies && replies.pending === 0 && !replies.awaitingInfile)) return end('client_quit');
      client.pause();
      if (replies) quitting = true;
      else raiseFence();
    };
    const raiseFence = () => {
      fence = new ReplyFence();
      server.write(fence.command);
    };
    /** Server bytes to the client; false when the client backs up. */
    const toClient = (chunk: Buffer): boolean => {
      gate.replied();
      if (replies) {
        try {
          replies.push(chunk);
        } catch {
          // Bytes the tracker cannot place: no longer followed; a quit raises a fence.
          replies = null;
        }
      }
      if (quitting) {
        // A client may close right after its COM_QUIT (libmariadb does): its replies go nowhere, they still count.
        const flowing = !client.writable || client.write(chunk);
        if (!replies) {
          quitting = false;
          raiseFence();
        } else if (replies.pending === 0 && !replies.awaitingInfile) end('client_quit');
        return flowing;
      }
      if (!fence) return client.write(chunk);
      const out = fence.push(chunk);
      // A client may close right after its COM_QUIT (libmariadb does): its replies go nowhere, the fence still counts.
      // Not writable once its FIN came in: a write then only builds an error (a stack trace) to throw away.
      const flowing = out.length === 0 || !client.writable || client.write(out);
      if (fence.done) end('client_quit');
      return flowing;
    };
    const fromClient = (chunk: Buffer) => gate.push(chunk);
    const fromServer = (chunk: Buffer) => {
      if (!toClient(chunk) && !ended) server.pause();
    };
    // Diverted reads return false to stop reading; resume() starts them again.
    const sink = { onBackendData: (chunk: Buffer) => toClient(chunk) && !ended };
    let diverted = false;
    const resumeServer = () => {
      if (!ended) server.resume();
    };
    const resumeClient = () => {
      if (!ended && !gate.holding) client.resume();
    };
    const onClientEnd = () => {
      const step = finStep(gate);
      finPending = step === 'after_kill';
      if (finPending || ended) return;
      if (step === 'cut_short') return end('client_closed');
      fenceReplies();
    };
    // After its COM_QUIT a client that closes has said goodbye: the fence is still awaited, read on
    // (a backend paused on the client's backpressure would wait for a drain that never comes).
    const onClientClose = () => {
      if (!fence && !quitting) end('client_closed');
      else if (!ended) server.resume();
    };
    const onClientError = () => {
      if (!fence && !quitting) end('client_error');
      else if (!ended) server.resume();
    };
    const onServerClose = () => {
      // Whatever the fence held back was the client's.
      if (fence && !ended && client.writable) client.write(fence.rest());
      end('backend_closed');
    };
    const onServerError = () => end('backend_error');
    const onAbort = () => end('terminated');

    client.on('end', onClientEnd);
    client.on('close', onClientClose);
    client.on('error', onClientError);
    server.on('close', onServerClose);
    server.on('error', onServerError);
    client.on('drain', resumeServer);
    server.on('drain', resumeClient);
    if (opts.signal?.aborted) return end('terminated');
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    if (server.destroyed) return end('backend_closed');
    if (client.destroyed) return end('client_closed');
    if (clientLeftover.length > 0) gate.push(clientLeftover);
    if (ended) return;
    diverted = divert(server, sink);
    if (!diverted) server.on('data', fromServer);
    client.on('data', fromClient);
    server.resume();
    // A client may have half-closed during the login.
    if (client.readableEnded) onClientEnd();
    else if (!gate.holding) client.resume();
  });
}

function ignore(): void {}
