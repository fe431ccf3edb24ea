// What a pooled connection's key says of its account's privileges: the version of the
// read that judged the login (the account's row, and its default role's), and an epoch
// that changes whenever that version changes for the account on this proxy, even back
// to a value seen before.
//
// A connection logs in with the account's privileges as they are at that moment, while
// its key carries the version of the proxy's last read, which may be older: a pool that
// grows between a GRANT and the read that shows it holds a connection with the grant
// under the old version. Without the epoch, a REVOKE that put the row back as it was
// (its version too) would make that connection lendable again, with the revoked grant,
// to every login judged after it. With it, connections made under a version serve only
// logins judged before the account's version next changed here. Left: a GRANT and its
// REVOKE both between two reads of this proxy, with the pool growing in between.
import { privilegeVersion, type Account } from '../accounts/account.js';

/** Accounts followed at most; past it the map starts again, with epochs never used before. */
const MAX_ACCOUNTS = 100_000;

export class AccountEpochs {
  private next = 1;
  private readonly current = new Map<string, { version: string; keyVersion: string }>();
  /** Per account object of an answer: most logins are judged by a cached answer, and need no lookup by name. */
  private readonly memo = new WeakMap<Account, string>();

  /** The version a pooled connection of `account` (of `project`) is keyed by. */
  keyVersion(project: string, account: Account): string {
    const known = this.memo.get(account);
    if (known !== undefined) return known;
    const version = privilegeVersion(account);
    const name = `${project}\u0000${account.user}\u0000${account.host}`;
    let entry = this.current.get(name);
    if (entry?.version !== version) {
      if (this.current.size >= MAX_ACCOUNTS) this.current.clear();
      entry = { version, keyVersion: `${version}~${this.next++}` };
      this.current.set(name, entry);
    }
    this.memo.set(account, entry.keyVersion);
    return entry.keyVersion;
  }
}
