// What the proxy asks before it wakes anything: how a project's user
// authenticates. Two sources answer it: the control API
// (control-api-verifiers.ts) and, for a static backend, its own accounts
// (backend-account-verifiers.ts).

/** An account whose method the proxy cannot check itself (or that no password can pass). */
export interface OtherMethod {
  plugin: string;
}

/**
 * How a user authenticates: a mysql_native_password verifier; null for no such user or
 * project (answer as a wrong password); another method.
 */
export type RoleVerifier = Buffer | null | OtherMethod;

export interface RoleVerifierClient {
  get(project: string, user: string, signal: AbortSignal): Promise<RoleVerifier>;
  /**
   * Ask past the cache, and have the control plane re-read an awake compute: for a
   * password that did not match, in case it changed. Replaces the cached answer.
   */
  refresh(project: string, user: string, signal: AbortSignal): Promise<RoleVerifier>;
  /** Forget the answer for (project, user), e.g. after the compute refused a login made with it. */
  invalidate(project: string, user: string): void;
  close(): Promise<void>;
}

export class RoleVerifierError extends Error {
  override readonly name = 'RoleVerifierError';
}
