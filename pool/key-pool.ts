// The connections of one pool key (compute, user, database, capabilities, charset):
// interchangeable, so any of them serves any borrower of the key. A connection's state
// is where it is: in the idle list, or out of it (lent, being pinged or reset), so the
// pool's statistics are list sizes.
import type { BackendKey, LoggedInBackend } from '../backend/login.js';
import { BackendEntry } from './pooled-backend.js';
import type { ComputePool } from './compute-pool.js';

export class KeyPool {
  /**
   * Idle connections in the order they came back: borrows take the last (hot connections
   * stay hot), so the first ones are those idle longest and the janitor closes them.
   */
  readonly idle: BackendEntry[] = [];
  /** Its connections out of the idle list: lent, being pinged or reset. */
  out = 0;
  /** acquire() calls for this key that hold no connection yet: waiting, logging in. */
  acquiring = 0;
  /** Of those, the ones logging in (on a slot): connections it will have within a login's time. */
  opening = 0;
  /** The janitor dropped it from its compute (unused): whoever remembered it looks the key up again. */
  forgotten = false;

  constructor(
    readonly id: string,
    readonly key: BackendKey,
    readonly compute: ComputePool,
  ) {}

  /** Connections lent or being logged in: they will be back (or idle) within milliseconds, unless pinned. */
  get busy(): boolean {
    return this.out + this.opening > 0;
  }

  /** Nothing refers to it: the janitor may forget it. */
  get unused(): boolean {
    return this.idle.length === 0 && this.out === 0 && this.acquiring === 0;
  }

  /** A connection a login just made for this key, out with the borrower that made it. */
  adopt(id: number, conn: LoggedInBackend): BackendEntry {
    this.out++;
    return new BackendEntry(id, this, conn);
  }

  /** The connection that came back last, taken out of the idle list. */
  takeIdle(): BackendEntry | undefined {
    const entry = this.idle.pop();
    if (entry) {
      entry.unwatchIdle();
      this.out++;
    }
    return entry;
  }

  /** The connection that has been idle longest, taken out of the idle list. */
  takeOldestIdle(): BackendEntry | undefined {
    const entry = this.idle.shift();
    if (entry) {
      entry.unwatchIdle();
      this.out++;
    }
    return entry;
  }

  /** Idle connections that went idle at or before `idleBefore`, or died: taken out of the list. */
  takeStale(idleBefore: number): BackendEntry[] {
    const stale: BackendEntry[] = [];
    let kept = 0;
    for (const entry of this.idle) {
      if (entry.alive && entry.idleSince > idleBefore) {
        this.idle[kept++] = entry;
      } else {
        entry.unwatchIdle();
        stale.push(entry);
      }
    }
    this.idle.length = kept;
    this.out += stale.length;
    return stale;
  }

  /** Every idle connection, taken out of the list. */
  takeAllIdle(): BackendEntry[] {
    const all = this.idle.splice(0);
    for (const entry of all) entry.unwatchIdle();
    this.out += all.length;
    return all;
  }

  /** A connection back from its borrower, fit for the next one. */
  putIdle(entry: BackendEntry, now: number): void {
    this.out--;
    this.idle.push(entry);
    entry.watchIdle(now);
  }

  /** One of its out connections closed. */
  forget(): void {
    this.out--;
  }
}

/**
 * What makes connections interchangeable, as a string: the compute is implied by the
 * ComputePool it lives in. The database is length-prefixed so no two keys can meet.
 */
export function keyPoolId(key: BackendKey): string {
  const db = key.database === null ? '-' : `${key.database.length}:${key.database}`;
  return `${key.tracked ? 'T' : ''}${key.capabilities >>> 0}/${key.mariadbCapabilities >>> 0}/${key.charset}/${key.account ?? ''}/${db}/${key.user}`;
}
