// What attaching a compute connection gives a session, whichever way it logged in:
// a connection of its own (passthrough: attach-passthrough.ts; verified in pipe mode or
// sandboxed) or one borrowed from the pools (verified: attach-backend.ts), with the
// bytes either side sent before the relay takes over. The session (session.ts) picks
// its relay by `kind`; transaction mode keeps the borrowers for later statements.
import type { Socket } from 'node:net';
import type { Greeting } from '../protocol/index.js';
import type { PooledBackend } from '../pool/pooled-backend.js';
import type { BackendAddress } from '../backend/address.js';
import type { PoolsInUse } from './session-context.js';

interface Attached {
  addr: BackendAddress;
  greeting: Greeting;
  /** Bytes the client sent before the relay takes over. */
  clientLeftover: Buffer;
}

/** A compute connection of the session's own (passthrough, or verified in pipe mode). */
export interface OwnBackend extends Attached {
  kind: 'own';
  socket: Socket;
  /** Bytes the compute sent before the relay takes over. */
  backendLeftover: Buffer;
}

/** Borrows a pooled connection like the session's first, waking its compute if need be. */
export type Borrow = (signal?: AbortSignal) => Promise<PooledBackend>;

/**
 * A pooled connection like the session's first at once, without a promise: when the
 * compute's address is cached and an idle connection is ready (see BackendPools.tryAcquire).
 * Null: use Borrow.
 */
export type BorrowAtOnce = () => PooledBackend | null;

/** A pooled connection (verified, session or transaction mode): it goes back to `pooling.pools` at the end. */
export interface BorrowedBackend extends Attached {
  kind: 'pooled';
  pooling: PoolsInUse;
  pooled: PooledBackend;
  /** Another connection like `pooled`: transaction mode's later statements (null in session mode). */
  borrow: Borrow | null;
  /** Transaction mode only. */
  borrowAtOnce: BorrowAtOnce | null;
  /** What the client negotiated (pool-normalised): a tracked connection has CLIENT_SESSION_TRACK whatever the client did. */
  clientCapabilities: number;
}

export type AttachedBackend = OwnBackend | BorrowedBackend;
