// Pipe mode: after authentication bytes flow both ways untouched.
//
// A held client should cost little, so a relay is one small object and its
// listeners are module functions shared by every relay (an emitter calls them
// with the socket as `this`), not a dozen closures per session. Compute bytes
// come through the backend socket's diverted reads (backend-socket.ts), which
// skip the Readable machinery; a socket made elsewhere (TLS) uses 'data'.
import type { Socket } from 'node:net';
import { divert, type ReadSink } from '../backend/backend-socket.js';
import { closed, destroyLater, endOnce } from '../socket/socket-ends.js';

export type RelayEnd = 'client_closed' | 'backend_closed' | 'client_error' | 'backend_error';

class PipeRelay implements ReadSink {
  private ended = false;

  constructor(
    readonly client: Socket,
    readonly backend: Socket,
    private readonly resolve: (why: RelayEnd) => void,
  ) {}

  /** Compute -> client; false stops reading the compute until the client drains. */
  onBackendData(chunk: Buffer): boolean {
    return this.client.write(chunk);
  }

  finish(why: RelayEnd): void {
    if (this.ended) return;
    this.ended = true;
    // end() lets a final packet (an ERR, a QUIT) drain; destroy stops a stuck peer.
    endOnce(this.client);
    endOnce(this.backend);
    destroyLater(this.client);
    destroyLater(this.backend);
    this.resolve(why);
  }
}

const relays = new WeakMap<Socket, PipeRelay>();

/**
 * Carry bytes until either side goes away, then close the other. `leftover`
 * holds bytes each side sent before the relay took over, so none are lost.
 */
export function relayPipe(
  client: Socket,
  backend: Socket,
  clientLeftover: Buffer,
  backendLeftover: Buffer,
): Promise<RelayEnd> {
  return new Promise<RelayEnd>((resolve) => {
    const relay = new PipeRelay(client, backend, resolve);
    relays.set(client, relay);
    relays.set(backend, relay);
    // Leftovers first: divert() passes on at once what the paused socket has read since.
    if (backendLeftover.length > 0) client.write(backendLeftover);
    if (clientLeftover.length > 0) backend.write(clientLeftover);
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
    // Both arrive paused from the handshake.
    client.resume();
    backend.resume();
  });
}

// Listeners: `this` is the socket that emitted.

function fromClient(this: Socket, chunk: Buffer): void {
  if (!relays.get(this)!.backend.write(chunk)) this.pause();
}

function fromBackend(this: Socket, chunk: Buffer): void {
  if (!relays.get(this)!.client.write(chunk)) this.pause();
}

function resumeClient(this: Socket): void {
  relays.get(this)!.client.resume();
}

function resumeBackend(this: Socket): void {
  relays.get(this)!.backend.resume();
}

/** A peer that half-closes: pass the FIN on. */
function passClientEnd(this: Socket): void {
  endOnce(relays.get(this)!.backend);
}

function passBackendEnd(this: Socket): void {
  endOnce(relays.get(this)!.client);
}

function onClientClose(this: Socket): void {
  closed(this);
  relays.get(this)!.finish('client_closed');
}

function onBackendClose(this: Socket): void {
  closed(this);
  relays.get(this)!.finish('backend_closed');
}

function onClientError(this: Socket): void {
  relays.get(this)!.finish('client_error');
}

function onBackendError(this: Socket): void {
  relays.get(this)!.finish('backend_error');
}
