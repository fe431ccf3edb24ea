// Which account a login gets, as MariaDB 10.11 picks it (sql_acl.cc:
// acl_user_compare, get_magic_sort, find_by_username_or_anon, find_mpvio_user).
//
// The server keeps its accounts sorted by user name (byte order), then from the
// most specific host pattern to the most generic, then by host in reverse byte
// order ('localhost' before '127.0.0.1'). A login by user U from address A gets:
//   1. the first of U's accounts whose host admits A;
//   2. unless an anonymous account (user '') that admits A sorts strictly higher
//      by specificity: then that one (an anonymous ''@'10.0.0.5' shadows
//      'app'@'%' for app from 10.0.0.5);
//   3. with neither, the server still runs a login against a stand-in account it
//      picks by a hash of U's name, and makes it fail. Which one could not be
//      reproduced (see README, Authentication): the proxy answers such a login
//      with 1045, which the server gives for any password-based stand-in.
import { hostMatches } from './host-match.js';
import type { Account } from './account.js';

/** The longest host the server stores (HOSTNAME_LENGTH in 10.11: Host is char(255)). */
const MAX_HOST_LENGTH = 255;

/**
 * The server's specificity key for a host pattern and user name, inverted: lower is
 * more specific. The server computes a number from (L, K, M, P) per pattern (K runs
 * of '%', M '_' characters, N other characters, L = room a '%' leaves, P the length
 * of the literal prefix), appends one bit for an anonymous user, and sorts by its
 * complement descending; this returns the number itself, to sort ascending.
 */
export function specificity(host: string, user: string): number {
  const pattern = Buffer.from(host, 'utf8');
  let n = 0;
  let m = 0;
  let k = 0;
  let p = 0;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === PERCENT) {
      if (k === 0 && m === 0) p = n;
      k++;
      while (pattern[i + 1] === PERCENT) i++;
      continue;
    }
    if (c === UNDERSCORE) {
      if (k === 0 && m === 0) p = n;
      m++;
      continue;
    }
    if (c === BACKSLASH && i + 1 < pattern.length) i++;
    n++;
  }
  const d = MAX_HOST_LENGTH + 1;
  const l = k ? Math.max(0, MAX_HOST_LENGTH - n - m) : 0;
  const magic = l > m ? (((l * 2 + 1) * d + k) * d + m) * d + p : ((m * 2 * d + l) * d + k) * d + p;
  return magic * 2 + (user === '' ? 1 : 0);
}

/** The server's order of two accounts (negative: a first). */
export function compareAccounts(a: Pick<Account, 'user' | 'host'>, b: Pick<Account, 'user' | 'host'>): number {
  const byUser = Buffer.compare(Buffer.from(a.user, 'utf8'), Buffer.from(b.user, 'utf8'));
  if (byUser) return byUser;
  const bySort = specificity(a.host, a.user) - specificity(b.host, b.user);
  if (bySort) return bySort;
  return -Buffer.compare(Buffer.from(a.host, 'utf8'), Buffer.from(b.host, 'utf8'));
}

export function sortAccounts<T extends Pick<Account, 'user' | 'host'>>(accounts: T[]): T[] {
  return [...accounts].sort(compareAccounts);
}

/**
 * The account a login by `user` from `ip` gets, from candidates in the server's order
 * (the user's accounts and the anonymous ones, others ignored); undefined when none
 * admits the address.
 */
export function pickAccount<T extends Pick<Account, 'user' | 'host'>>(candidates: readonly T[], user: string, ip: string): T | undefined {
  let found: T | undefined;
  for (const a of candidates) {
    if (a.user === user && hostMatches(a.host, ip)) {
      found = a;
      break;
    }
  }
  if (user === '') return found;
  const bar = found ? specificity(found.host, found.user) : Infinity;
  for (const a of candidates) {
    if (a.user !== '') continue;
    // Anonymous accounts are in order too: past the named match's rank none can win.
    if (specificity(a.host, a.user) >= bar) break;
    if (hostMatches(a.host, ip)) return a;
  }
  return found;
}

const PERCENT = 0x25;
const UNDERSCORE = 0x5f;
const BACKSLASH = 0x5c;
