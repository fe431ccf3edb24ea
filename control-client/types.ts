// What the proxy needs from whatever knows where computes live: the control
// API over HTTP, Kubernetes directly, or one fixed backend.

import type { BackendAddress } from '../backend/address.js';

/** What a resolver knows of one project now (the admin console's SHOW PROJECTS). */
export interface ResolverEntry {
  project: string;
  /** The address kept for it (fresh, or past its TTL while no control plane answers). */
  addr?: BackendAddress;
  /** Date.now() when that address was given. */
  answeredAt?: number;
  /** Date.now() when the wake now in flight started; absent when none is. */
  wakingSince?: number;
}

export interface ComputeResolver {
  /** Resolve a project to a serving compute, waking it if it sleeps. */
  resolve(project: string, signal: AbortSignal): Promise<BackendAddress>;
  /**
   * What resolve() would answer at once from what it holds, without asking or
   * waking; undefined when it would have to. Lets the connect path skip a
   * wait's timer and signal when the address is known.
   */
  cached?(project: string): BackendAddress | undefined;
  /** A connect to `addr` failed: forget it so the next resolve wakes again. */
  invalidate(project: string, addr: BackendAddress): void;
  /** Its cached addresses and wakes in flight; absent where nothing is cached (a static backend). */
  entries?(): ResolverEntry[];
  close(): Promise<void>;
}
