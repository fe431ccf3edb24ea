// What a session keeps from its login besides its account's own row: its default
// role's global privileges and those of every role granted to that role, as they were
// when it logged in. Checked against mariadbd 10.11: after a REVOKE from the role, or
// from a role granted to it, a session keeps the global privilege and a fresh login
// lacks it; an account that lost its default role keeps the name in its row, and its
// next login activates nothing.
//
// A pooled connection stands for its login's privileges through its account's
// version (the pool key), so an account with a default role also gets a role version:
// a digest of whether it still has the role, which roles the role reaches, and their
// rows. Apart from the version, which also keys failed-login counts (those must not
// restart when a role changes).
// Reading that needs SELECT on mysql.roles_mapping. A reader without it leaves the
// reach unknown: such an account's role version then changes at every read, so a pooled
// connection serves only the logins judged by the read it was made under, never a
// login judged after a change it cannot see.
import { createHash, randomBytes } from 'node:crypto';
import type { Account } from './account.js';

/** One mysql.roles_mapping row: `role` granted to user@host (a role's own grants have host ''). */
export interface RoleGrant {
  host: string;
  user: string;
  role: string;
}

/** An account whose row names a default role, with its row's host as stored (roles_mapping keys on it). */
export interface DefaultRoleHolder {
  account: Account;
  storedHost: string;
  role: string;
}

/** More roles than this reached from one default role: the read is refused (a cycle cannot occur, but a reader must end). */
const MAX_REACH = 10_000;

/**
 * Sets each holder's account's role version.
 * `grants` null: mysql.roles_mapping could not be read.
 */
export function foldDefaultRoles(holders: readonly DefaultRoleHolder[], roleRows: ReadonlyMap<string, string>, grants: readonly RoleGrant[] | null): void {
  if (holders.length === 0) return;
  if (grants === null) {
    const read = randomBytes(12).toString('base64url');
    for (const h of holders) h.account.roleVersion = digest([h.role, 'roles unread', read]);
    return;
  }
  const granted = new Map<string, string[]>();
  for (const g of grants) {
    const key = `${g.user}\u0000${g.host}`;
    const list = granted.get(key);
    if (list) list.push(g.role);
    else granted.set(key, [g.role]);
  }
  for (const h of holders) {
    const has = granted.get(`${h.account.user}\u0000${h.storedHost}`)?.includes(h.role) ?? false;
    const parts = [h.role, has ? 'granted' : 'not granted'];
    // Digested whether granted or not: the digest must move with the role's rows either way.
    for (const role of reach(h.role, granted)) parts.push(role, roleRows.get(role) ?? 'no such role');
    h.account.roleVersion = digest(parts);
  }
}

/** The role and every role granted to it, directly or not, sorted. */
function reach(role: string, granted: ReadonlyMap<string, string[]>): string[] {
  const seen = new Set([role]);
  const queue = [role];
  while (queue.length > 0) {
    for (const next of granted.get(`${queue.pop()!}\u0000`) ?? []) {
      if (seen.has(next)) continue;
      if (seen.size >= MAX_REACH) throw new Error(`role ${role} reaches more than ${MAX_REACH} roles`);
      seen.add(next);
      queue.push(next);
    }
  }
  return [...seen].sort();
}

function digest(parts: string[]): string {
  return createHash('sha256').update(parts.join('\u0000')).digest('base64url').slice(0, 22);
}
