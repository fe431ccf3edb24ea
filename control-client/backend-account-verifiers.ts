// Accounts for a static backend (`proxy --backend`), where no control plane keeps
// them: the proxy reads the backend's own accounts (mysql.global_priv) and login
// settings through an account the operator gives it, with the same rules the
// control plane uses (accounts/). That is what lets a static backend have
// proxy-verified logins and so pooling.
//
// The whole table is read at once and kept for ttlMs. A name with no account of its
// own, a password that does not match and an address no account admits ask again
// (refresh): such a login waits for a read that started after it asked, so a user
// made or changed with SQL a moment ago works at once. Reads start at most once per
// MIN_REREAD_MS and every login waiting meanwhile shares the next one, so a flood of
// bad logins costs the backend a few small queries a second.
//
// The same read lists the backend's stored code that transaction pooling pins on
// (accounts/stored-code.ts), through the procedure the README's static-backend
// section shows: without it (or EXECUTE on it) that is unknown, and every
// transaction-pooled session pins.
import type { Logger } from 'pino';
import { readAccounts } from '../accounts/compute-accounts.js';
import type { Account, AccountPolicy, UserAccounts } from '../accounts/account.js';
import type { StoredCode } from '../accounts/stored-code.js';
import { serverUserName, userAccounts } from '../accounts/user-accounts.js';
import { CoalescedReads } from '../util/coalesced-reads.js';
import { raceSignal } from '../util/abort.js';
import { RoleVerifierError, type RoleVerifierClient } from './verifiers.js';
import type { BackendAddress } from '../backend/address.js';

export interface BackendAccountVerifierOptions {
  backend: BackendAddress;
  /** An account that may SELECT from mysql.global_priv and mysql.roles_mapping (and EXECUTE the stored-code procedure). */
  login: { user: string; password: string };
  ttlMs: number;
  logger: Logger;
  /** Bound on one read. Default 5 s. */
  timeoutMs?: number;
}

const MIN_REREAD_MS = 250;
const MAX_ANSWERS = 10_000;

export function createBackendAccountVerifiers(o: BackendAccountVerifierOptions): RoleVerifierClient {
  const timeoutMs = o.timeoutMs ?? 5_000;
  const where = `${o.backend.host}:${o.backend.port}`;
  // The reading account itself is served without methods: nobody logs in as it through the proxy.
  const reserved = new Set([o.login.user]);
  let known: { accounts: Account[]; policy: AccountPolicy; names: Set<string>; storedCode: StoredCode } | null = null;
  /** Each user's answer from the current read, built once: a pooled login asks for it every time. */
  let answers = new Map<string, UserAccounts>();
  let readAt = -Infinity;
  let lastError: RoleVerifierError | null = null;
  let saidRolesUnread: string | undefined;

  const reads = new CoalescedReads(async () => {
    const started = performance.now();
    try {
      const { accounts, policy, storedCode, rolesUnread } = await readAccounts(o.backend, o.login, timeoutMs);
      if (rolesUnread !== undefined && rolesUnread !== saidRolesUnread) {
        o.logger.warn(
          { backend: where, reason: rolesUnread },
          'accounts with a default role: their pooled connections serve only logins judged by the same accounts read (the accounts reader lacks SELECT on mysql.roles_mapping: README, Pool modes)',
        );
      }
      saidRolesUnread = rolesUnread;
      known = { accounts, policy, names: new Set(accounts.map((a) => a.user)), storedCode };
      answers = new Map();
      lastError = null;
      o.logger.debug({ backend: where, accounts: accounts.length, ms: Math.round(performance.now() - started) }, 'backend accounts read');
    } catch (err) {
      lastError = new RoleVerifierError(`cannot read the accounts of ${where}: ${(err as Error).message}`, { cause: err });
      o.logger.warn({ backend: where, err: (err as Error).message }, 'backend accounts unreadable; serving the last read');
    } finally {
      readAt = started;
    }
  });

  /** A read that started after now (waiting for the next one if need be), within the rate bound. */
  async function readSince(signal: AbortSignal): Promise<void> {
    await raceSignal(reads.atLeastFrom(performance.now(), MIN_REREAD_MS), signal);
  }

  function answer(user: string): UserAccounts {
    if (!known) throw lastError ?? new RoleVerifierError(`the accounts of ${where} have not been read`);
    let a = answers.get(user);
    if (!a) {
      a = userAccounts(known.accounts, user, known.policy, reserved, known.storedCode);
      // Bounded: names a client made up (each a miss that re-reads) must not grow it for a whole TTL.
      if (answers.size >= MAX_ANSWERS) answers.clear();
      answers.set(user, a);
    }
    return a;
  }

  return {
    // What get() answers without a read: the last read is fresh and has the name.
    cached(_project, user) {
      if (!known || performance.now() - readAt > o.ttlMs || !known.names.has(serverUserName(user))) return undefined;
      return answer(user);
    },
    async get(_project, user, signal) {
      if (!known || performance.now() - readAt > o.ttlMs) await readSince(signal);
      // Perhaps made with SQL since the last read.
      if (known && !known.names.has(serverUserName(user))) await readSince(signal);
      return answer(user);
    },
    async refresh(_project, user, signal) {
      await readSince(signal);
      return answer(user);
    },
    invalidate() {
      readAt = -Infinity;
    },
    async close() {
      await reads.settled();
    },
  };
}
