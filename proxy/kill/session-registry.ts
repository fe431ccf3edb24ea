// The sessions of this proxy by id, for the KILLs that name them (from a client of
// this proxy, or forwarded by another), and the ids themselves: a new session gets
// one no live session has.
import type { BackendAddress } from '../../backend/address.js';
import { SessionIds } from './session-ids.js';

/** What a KILL naming a session acts on; a session has one once bytes flow. */
export interface KillTarget {
  /** The compute as KILLs compare them (computeKey). */
  readonly compute: string;
  /** The user name the compute knows the session by: KILL's "same user" rule compares it. */
  readonly user: string;
  /**
   * The compute thread serving the session now, or null between statements (pooled).
   * A pooled connection aimed at is never lent to another session afterwards: the
   * KILL may land after the statement ended.
   */
  aim(): number | null;
  /** End the session (KILL CONNECTION of a pooled session between statements). */
  end(): void;
}

/** A session's KILL target, set once bytes flow (KILLs before that find none). */
export interface Registered {
  target: KillTarget | undefined;
}

/** Computes as KILLs compare them: the control plane's id, else where it listens. */
export function computeKey(addr: BackendAddress): string {
  return addr.computeId ?? `${addr.host}:${addr.port}`;
}

/** `T` is what the proxy registers (its sessions); KILL only needs their targets. */
export class SessionRegistry<T extends Registered = Registered> {
  private readonly sessions = new Map<number, T>();
  private readonly ids: SessionIds;

  constructor(readonly instance: number) {
    this.ids = new SessionIds(instance);
  }

  get size(): number {
    return this.sessions.size;
  }

  /** A new session, made with a fresh id, registered under it until remove(). */
  add<U extends T>(make: (id: number) => U): U {
    const id = this.ids.issue((n) => this.sessions.has(n));
    const session = make(id);
    this.sessions.set(id, session);
    return session;
  }

  remove(id: number): void {
    this.sessions.delete(id);
  }

  target(id: number): KillTarget | undefined {
    return this.sessions.get(id)?.target;
  }

  /** The session with this id (the admin console's KILL). */
  get(id: number): T | undefined {
    return this.sessions.get(id);
  }

  /** Every live session (the admin console's SHOW CLIENTS). */
  values(): IterableIterator<T> {
    return this.sessions.values();
  }
}
