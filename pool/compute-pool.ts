// One compute's pooled connections across all its keys: at most `max` open or being
// opened, the key pools, and the borrowers waiting. A connection slot is taken before a
// login and freed when that connection closes or the login fails; a freed slot goes to
// the first waiter, whatever its key, and a connection given back goes to the first
// waiter of its own key. So the queue is fair across keys, and a key never has idle
// connections while one of its borrowers waits.
import type { BackendKey } from '../backend/login.js';
import { KeyPool, keyPoolId } from './key-pool.js';
import type { BackendEntry } from './pooled-backend.js';
import { WaitQueue } from './wait-queue.js';

export interface PoolCounts {
  /** Out of the idle lists: borrowed, being logged in, pinged or reset. */
  inUse: number;
  idle: number;
  /** Borrowers waiting for a connection. */
  waiting: number;
  /** Open or opening connections: what maxPerCompute limits. */
  open: number;
}

/** What a waiter is handed: a connection of its key, or null for a slot to log in with. */
type Grant = BackendEntry | null;

export class ComputePool {
  readonly keys = new Map<string, KeyPool>();
  /** Connections open or being opened: what `max` limits. */
  open = 0;
  /** Suspended: nothing more is lent, and what comes back is closed. */
  dropped = false;
  private readonly waiters = new WaitQueue<KeyPool, Grant>();

  constructor(
    /** "host:port" */
    readonly id: string,
    /** For messages: "c-1 (10.0.0.5:3306)". */
    readonly name: string,
    readonly max: number,
  ) {}

  get waiting(): number {
    return this.waiters.size;
  }

  keyPool(key: BackendKey): KeyPool {
    const id = keyPoolId(key);
    let kp = this.keys.get(id);
    if (!kp) {
      kp = new KeyPool(id, key, this);
      this.keys.set(id, kp);
    }
    return kp;
  }

  /**
   * A slot for a new connection, now: a free one, or the slot of another key's idle
   * connection, closed for it (the one idle longest). Never ahead of a waiter.
   */
  tryTakeSlot(): boolean {
    if (this.waiters.size > 0) return false;
    if (this.open < this.max) {
      this.open++;
      return true;
    }
    const victim = this.longestIdle();
    if (!victim) return false;
    victim.home.forget();
    victim.close();
    return true;
  }

  /**
   * Queue `kp`'s borrower: resolves with a connection of its key given back meanwhile
   * (out of the idle list) or with null, a slot of its own to log in with. Rejects on
   * timeout, abort and drop (see WaitQueue).
   */
  wait(kp: KeyPool, timeoutMs: number, signal: AbortSignal, timedOut: () => Error): Promise<Grant> {
    return this.waiters.wait(kp, timeoutMs, signal, timedOut);
  }

  /**
   * A connection back from its borrower, reset and alive: to the first waiter of its
   * key; or, while others wait for a slot, closed to make one; or into its idle list.
   */
  giveBack(entry: BackendEntry, now: number): void {
    if (this.waiters.serveFirstOf(entry.home, entry)) return;
    if (this.waiters.size > 0) this.close(entry);
    else entry.home.putIdle(entry, now);
  }

  /** Close a connection that is out of its idle list; its slot goes on. */
  close(entry: BackendEntry): void {
    entry.home.forget();
    entry.close();
    this.freeSlot();
  }

  /** A slot was given up (its connection closed, its login failed): to the first waiter, or free. */
  freeSlot(): void {
    if (!this.waiters.serveFirst(null)) this.open--;
  }

  /** Suspended: fail every waiter, close every idle connection; borrowed ones close as they come back. */
  drop(errorFor: (kp: KeyPool) => Error): void {
    this.dropped = true;
    this.waiters.failAll(errorFor);
    for (const kp of this.keys.values()) {
      for (const entry of kp.takeAllIdle()) this.close(entry);
    }
  }

  counts(): PoolCounts {
    let idle = 0;
    for (const kp of this.keys.values()) idle += kp.idle.length;
    return { inUse: this.open - idle, idle, waiting: this.waiters.size, open: this.open };
  }

  /**
   * One key's share: its logged-in connections, idle or out (lent, pinged, reset), and
   * its borrowers waiting. Connections still logging in count for the compute only.
   */
  keyCounts(kp: KeyPool): PoolCounts {
    const idle = kp.idle.length;
    return { inUse: kp.out, idle, waiting: this.waiters.countOf(kp), open: idle + kp.out };
  }

  /** The idle connection, of any key, that has been idle longest, out of its list. */
  private longestIdle(): BackendEntry | undefined {
    let oldest: KeyPool | undefined;
    for (const kp of this.keys.values()) {
      const first = kp.idle[0];
      if (first && (!oldest || first.idleSince < oldest.idle[0]!.idleSince)) oldest = kp;
    }
    return oldest?.takeOldestIdle();
  }
}
