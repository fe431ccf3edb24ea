// Role verifiers for a static backend (`proxy --backend`), where no control plane keeps
// them: the proxy reads the backend's own accounts (mysql.global_priv) through an
// account the operator gives it, with the same rules the control plane uses
// (accounts/compute-accounts.ts). That is what lets a static backend have
// proxy-verified logins and so pooling.
//
// The whole table is read at once and kept for ttlMs. A user not found, or a password
// that does not match, triggers a re-read, but never more than one per MIN_REREAD_MS:
// a user made or changed with SQL works within that, and a flood of bad logins costs
// the backend at most a few small queries a second.
import type { Logger } from 'pino';
import { NATIVE_PASSWORD_PLUGIN, parseNativeVerifier } from '../protocol/index.js';
import { readGlobalPriv, rolesFromGlobalPriv, type StoredRole } from '../accounts/compute-accounts.js';
import { RoleVerifierError, type RoleVerifier, type RoleVerifierClient } from './verifiers.js';
import type { BackendAddress } from '../backend/address.js';

export interface BackendAccountVerifierOptions {
  backend: BackendAddress;
  /** An account that may SELECT from mysql.global_priv. */
  login: { user: string; password: string };
  ttlMs: number;
  logger: Logger;
  /** Bound on one read. Default 5 s. */
  timeoutMs?: number;
}

const MIN_REREAD_MS = 250;

export function createBackendAccountVerifiers(o: BackendAccountVerifierOptions): RoleVerifierClient {
  const timeoutMs = o.timeoutMs ?? 5_000;
  const where = `${o.backend.host}:${o.backend.port}`;
  let roles = new Map<string, StoredRole>();
  let readAt = 0;
  let reading: Promise<void> | null = null;
  let lastError: RoleVerifierError | null = null;

  function read(): Promise<void> {
    reading ??= (async () => {
      const started = Date.now();
      try {
        // The reading account itself is not served: nobody logs in as it through the proxy.
        const rows = await readGlobalPriv(o.backend, o.login, timeoutMs);
        const { roles: list, dropped } = rolesFromGlobalPriv(rows, new Set([o.login.user]));
        roles = new Map(list.map((r) => [r.user, r]));
        lastError = null;
        if (dropped > 0) o.logger.warn({ backend: where, dropped }, 'backend has more users than are served');
        o.logger.debug({ backend: where, users: roles.size, ms: Date.now() - started }, 'backend accounts read');
      } catch (err) {
        lastError = new RoleVerifierError(`cannot read the accounts of ${where}: ${(err as Error).message}`, { cause: err });
        o.logger.warn({ backend: where, err: (err as Error).message }, 'backend accounts unreadable; passwords go to the backend');
      } finally {
        readAt = Date.now();
        reading = null;
      }
    })();
    return reading;
  }

  function lookup(user: string): RoleVerifier {
    if (lastError && roles.size === 0) throw lastError;
    const role = roles.get(user);
    if (!role) return null;
    if (role.plugin !== NATIVE_PASSWORD_PLUGIN || role.verifier === undefined) return { plugin: role.plugin };
    return parseNativeVerifier(role.verifier);
  }

  async function current(fresh: boolean): Promise<void> {
    const age = Date.now() - readAt;
    if (age > o.ttlMs || (fresh && age > MIN_REREAD_MS)) await read();
    else if (reading) await reading;
  }

  return {
    async get(_project, user) {
      await current(false);
      const found = lookup(user);
      if (found !== null) return found;
      await current(true); // perhaps made with SQL since the last read
      return lookup(user);
    },
    async refresh(_project, user) {
      await current(true);
      return lookup(user);
    },
    invalidate() {
      readAt = 0;
    },
    async close() {
      await reading;
    },
  };
}
