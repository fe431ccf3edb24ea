// Failed-password counters per account, as MariaDB keeps them for
// max_password_errors (sql_acl.cc: password_errors, handle_password_errors): a
// wrong password the proxy refuses never reaches the compute, so the proxy counts
// it. Keys name the account and its row's version, so a changed account (ALTER
// USER: password, lock, expiry) starts from zero as the server's reload does.
//
// In memory for one proxy; on Redis (redis-password-errors.ts) when several share it.

export interface PasswordErrorStore {
  readonly kind: 'memory' | 'redis';
  /** Failed logins counted for the account. */
  count(key: string): Promise<number>;
  /** Counts one more; resolves to the new count. */
  increment(key: string): Promise<number>;
  /** A successful login clears the count, as on the server. */
  clear(key: string): Promise<void>;
  close(): Promise<void>;
}

/** The key of an account's counter: project, user, host and the row's version. */
export function passwordErrorKey(project: string, a: { user: string; host: string; version: string }): string {
  return `${project}\u0000${a.user}\u0000${a.host}\u0000${a.version}`;
}

/** One proxy's counters; the oldest go first past maxEntries (a blocked account may then unblock early). */
export class MemoryPasswordErrors implements PasswordErrorStore {
  readonly kind = 'memory';
  private readonly counts = new Map<string, number>();

  constructor(private readonly maxEntries = 100_000) {}

  async count(key: string): Promise<number> {
    return this.counts.get(key) ?? 0;
  }

  async increment(key: string): Promise<number> {
    const n = (this.counts.get(key) ?? 0) + 1;
    this.counts.delete(key);
    this.counts.set(key, n);
    while (this.counts.size > this.maxEntries) this.counts.delete(this.counts.keys().next().value!);
    return n;
  }

  async clear(key: string): Promise<void> {
    this.counts.delete(key);
  }

  async close(): Promise<void> {
    this.counts.clear();
  }
}
