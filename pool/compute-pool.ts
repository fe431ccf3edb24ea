// One compute's pooled connections across all its keys: at most `max` open or being
// opened, the key pools, and the borrowers waiting. A connection slot is taken before a
// login and freed when that connection closes or the login fails; a freed slot goes to
// the first waiter, whatever its key, and a connection given back goes to the first
// waiter of its own key. So the queue is fair across keys, and a key never has idle
// connections while one of its borrowers waits.
//
// With a grow delay (transaction pooling) the pool grows by need, not by a moment's
// absence: a borrower whose key has connections lent or logging in waits for one of
// them, and PoolGrowth decides when the compute opens another for its waiters. A key
// with none (the first connection, a pool gone idle, a wake) opens one at once.
import type { BackendKey } from '../backend/login.js';
import { KeyPool, keyPoolId } from './key-pool.js';
import type { BackendEntry } from './pooled-backend.js';
import { PoolGrowth, type Growable } from './pool-growth.js';
import { WaitQueue } from './wait-queue.js';
import type { AbortWatch } from '../util/abort.js';

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

export class ComputePool implements Growable {
  readonly keys = new Map<string, KeyPool>();
  /** Connections open or being opened: what `max` limits. */
  open = 0;
  /** Of those, the ones logging in. */
  opening = 0;
  /** Suspended: nothing more is lent, and what comes back is closed. */
  dropped = false;
  private readonly waiters = new WaitQueue<KeyPool, Grant>();
  /** Null without a grow delay: a borrower that finds nothing idle opens a connection at once. */
  private readonly growth: PoolGrowth | null;

  constructor(
    /** "host:port" */
    readonly id: string,
    /** For messages: "c-1 (10.0.0.5:3306)". */
    readonly name: string,
    readonly max: number,
    growDelayMs = 0,
  ) {
    this.growth = growDelayMs > 0 ? new PoolGrowth(this, growDelayMs) : null;
  }

  get waiting(): number {
    return this.waiters.size;
  }

  /** When the longest waiting borrower came (performance.now()), NaN when nobody waits. */
  get waitingSince(): number {
    return this.waiters.firstSince();
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
   * A slot for a new connection of `kp`, now, or false: the borrower waits. With a grow
   * delay, a key with connections lent or logging in waits for one of them, and a key
   * with none takes a free slot even while other keys' borrowers wait for theirs.
   * Otherwise never ahead of a waiter: a free slot, or the slot of another key's idle
   * connection, closed for it (the one idle longest).
   */
  tryTakeSlot(kp: KeyPool): boolean {
    if (this.growth) {
      if (kp.busy) return false;
      if (this.open < this.max) {
        this.open++;
        return true;
      }
    }
    return this.waiters.size === 0 && this.takeSlot();
  }

  /** Growth: a new connection's slot for the first waiter, whatever its key. */
  growForFirstWaiter(): boolean {
    if (!this.takeSlot()) return false;
    this.waiters.serveFirst(null);
    return true;
  }

  /**
   * Queue `kp`'s borrower: resolves with a connection of its key given back meanwhile
   * (out of the idle list) or with null, a slot of its own to log in with. Rejects on
   * timeout, abort and drop (see WaitQueue).
   */
  wait(kp: KeyPool, timeoutMs: number, signal: AbortWatch, timedOut: () => Error): Promise<Grant> {
    this.growth?.waited();
    return this.waiters.wait(kp, timeoutMs, signal, timedOut);
  }

  /**
   * A connection back from its borrower, reset and alive: to the first waiter of its
   * key; or, at the limit while others wait for a slot, closed to make one; or into its
   * idle list (under the limit, other keys' borrowers wait for their own or for growth).
   */
  giveBack(entry: BackendEntry, now: number): void {
    if (this.growth) this.growth.returns++;
    if (this.waiters.serveFirstOf(entry.home, entry)) return;
    if (this.waiters.size > 0 && this.open >= this.max) this.close(entry);
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
    this.growth?.stop();
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

  /** A free slot, or the slot of the connection idle longest (of another key: a key with waiters has none idle), closed. */
  private takeSlot(): boolean {
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
