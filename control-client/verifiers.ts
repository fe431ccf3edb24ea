// What the proxy asks before it wakes anything: the accounts a login by a user name
// can match, in the server's order, with what the server would need to judge it
// (accounts/account.ts). Two sources answer it: the control API
// (control-api-verifiers.ts) and, for a static backend, its own accounts
// (backend-account-verifiers.ts).
import type { UserAccounts } from '../accounts/account.js';

export interface RoleVerifierClient {
  /** The accounts for (project, user); for an unknown project, none. Throws RoleVerifierError when it cannot say. */
  get(project: string, user: string, signal: AbortSignal): Promise<UserAccounts>;
  /** What get() would answer at once from its cache, or undefined when it would have to ask. */
  cached?(project: string, user: string): UserAccounts | undefined;
  /**
   * Ask past the cache, and have the source re-read an awake compute first: for a
   * password that did not match, or an address no account admits, in case the
   * accounts changed. Replaces the cached answer.
   */
  refresh(project: string, user: string, signal: AbortSignal): Promise<UserAccounts>;
  /** Forget the answer for (project, user), e.g. after the compute refused a login made with it. */
  invalidate(project: string, user: string): void;
  close(): Promise<void>;
}

export class RoleVerifierError extends Error {
  override readonly name = 'RoleVerifierError';
}
