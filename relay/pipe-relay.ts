// Pipe mode: after authentication bytes flow both ways untouched, but for a KILL,
// whose id is the proxy's and is rewritten to the compute's (command-gate.ts: client
// bytes pass through a command tracker that holds back only a COM_QUERY starting
// with K and COM_PROCESS_KILL).
//
// A held client should cost little, so a relay is one small object and its
// listeners are module functions shared by every relay (an emitter calls them
// with the socket as `this`), not a dozen closures per session. Compute bytes
// come through the backend socket's diverted reads (backend-socket.ts), which
// skip the Readable machinery; a socket made elsewhere (TLS) uses 'data'.
//
// A client that leaves while its statement runs leaves the compute connection
// open: the caller stops the statement first (KILL QUERY on a connection of its
// own), then closes it. Ending it here would let the statement run on, and with
// TLS the close alert would sit unread and the compute would think the client there.
//
// A client that half-closes (FIN: it may still read) has its FIN passed on once what
// it sent before has gone: the compute answers, then closes, as it would directly
// (client-fin.ts), and judges what runs as it would for a direct client (SLEEP()
// notices within 5 s).
import type { Socket } from 'node:net';
import { divert, undivert, type ReadSink } from '../backend/backend-socket.js';
import { closeSoon, endOnce } from '../socket/socket-ends.js';
import { CommandGate, type GateSide } from './command-gate.js';
import type { KillHook } from './intercepted-command.js';
import { finStep } from './client-fin.js';

export type RelayEnd = 'client_closed' | 'backend_closed' | 'client_error' | 'backend_error';

export interface PipeOutcome {
  end: RelayEnd;
  /**
   * The client left while the compute may be running its statement: the compute
   * connection is left open (paused, no listeners) for the caller to stop the
   * statement and then destroy it.
   */
  statementRunning: boolean;
}

export interface PipeRelayOptions {
  /** The id the client was given (a KILL naming it is the session's own). */
  sessionId: number;
  /** Decides KILLs; without one they pass untouched. */
  hook?: KillHook;
}

class PipeRelay implements ReadSink, GateSide {
  private ended = false;
  /** The client sent FIN while a KILL was being decided: passed on once it is. */
  private finPending = false;
  /** The client's FIN went to the compute: from then on the compute judges what runs. */
  private finPassed = false;
  readonly gate: CommandGate;

  constructor(
    readonly client: Socket,
    readonly backend: Socket,
    opts: PipeRelayOptions,
    private readonly resolve: (outcome: PipeOutcome) => void,
  ) {
    this.gate = new CommandGate(this, { dropQuit: false, pooled: false, sessionId: opts.sessionId, hook: opts.hook });
  }

  /** Compute -> client; false stops reading the compute until the client drains. */
  onBackendData(chunk: Buffer): boolean {
    this.gate.replied();
    return this.client.write(chunk);
  }

  toCompute(bytes: Buffer): boolean {
    return this.backend.write(bytes);
  }

  pauseClient(): void {
    this.client.pause();
  }

  resumeClient(): void {
    if (this.finPending) this.clientEnded();
    if (!this.ended && !this.backend.writableNeedDrain) this.client.resume();
  }

  /** The client sent FIN: the compute gets it after everything the client sent before. */
  clientEnded(): void {
    this.finPending = finStep(this.gate) === 'after_kill';
    if (this.finPending) return;
    this.finPassed = true;
    endOnce(this.backend);
  }

  quit(): void {
    // Never: COM_QUIT goes to the compute, which closes.
  }

  broken(): void {
    this.finish('client_error');
  }

  finish(why: RelayEnd): void {
    if (this.ended) return;
    this.ended = true;
    this.gate.close();
    const gone = why === 'client_error' || (why === 'client_closed' && !this.finPassed);
    const running = gone && this.gate.statementRunning;
    // end() lets a final packet (an ERR, a QUIT) drain; destroy stops a stuck peer.
    closeSoon(this.client);
    if (running) {
      leave(this.backend);
    } else {
      closeSoon(this.backend);
    }
    this.resolve({ end: why, statementRunning: running });
  }
}

const relays = new WeakMap<Socket, PipeRelay>();

/**
 * Carry bytes until either side goes away, then close the other (but see
 * PipeOutcome.statementRunning). `leftover` holds bytes each side sent before the
 * relay took over, so none are lost.
 */
export function relayPipe(
  client: Socket,
  backend: Socket,
  clientLeftover: Buffer,
  backendLeftover: Buffer,
  opts: PipeRelayOptions = { sessionId: 0 },
): Promise<PipeOutcome> {
  return new Promise<PipeOutcome>((resolve) => {
    const relay = new PipeRelay(client, backend, opts, resolve);
    relays.set(client, relay);
    relays.set(backend, relay);
    // Leftovers first: divert() passes on at once what the paused socket has read since.
    if (backendLeftover.length > 0) client.write(backendLeftover);
    if (clientLeftover.length > 0) relay.gate.push(clientLeftover);
    client.on('data', fromClient);
    backend.on('drain', resumeClient);
    client.on('end', passClientEnd);
    if (!divert(backend, relay)) backend.on('data', fromBackend);
    client.on('drain', resumeBackend);
    backend.on('end', passBackendEnd);
    client.on('close', onClientClose);
    backend.on('close', onBackendClose);
    client.on('error', onClientError);
    backend.on('error', onBackendError);
    // Both arrive paused from the handshake; a client may have half-closed during it.
    if (client.readableEnded) relay.clientEnded();
    else if (!relay.gate.holding) client.resume();
    backend.resume();
  });
}

/** Stop relaying a compute connection but leave it open, for the caller to close. */
function leave(backend: Socket): void {
  undivert(backend);
  backend.off('data', fromBackend);
  backend.off('drain', resumeClient);
  backend.off('end', passBackendEnd);
  backend.off('close', onBackendClose);
  backend.off('error', onBackendError);
  backend.on('error', ignore);
  backend.pause();
}

// Listeners: `this` is the socket that emitted.

function fromClient(this: Socket, chunk: Buffer): void {
  relays.get(this)!.gate.push(chunk);
}

function fromBackend(this: Socket, chunk: Buffer): void {
  const relay = relays.get(this)!;
  relay.gate.replied();
  if (!relay.client.write(chunk)) this.pause();
}

function resumeClient(this: Socket): void {
  const relay = relays.get(this)!;
  if (!relay.gate.holding) relay.client.resume();
}

function resumeBackend(this: Socket): void {
  relays.get(this)!.backend.resume();
}

function passClientEnd(this: Socket): void {
  relays.get(this)!.clientEnded();
}

function passBackendEnd(this: Socket): void {
  endOnce(relays.get(this)!.client);
}

function onClientClose(this: Socket): void {
  relays.get(this)!.finish('client_closed');
}

function onBackendClose(this: Socket): void {
  relays.get(this)!.finish('backend_closed');
}

function onClientError(this: Socket): void {
  relays.get(this)!.finish('client_error');
}

function onBackendError(this: Socket): void {
  relays.get(this)!.finish('backend_error');
}

function ignore(): void {}
