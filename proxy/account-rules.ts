// The parts of MariaDB 10.11's login verdict (sql_acl.cc: acl_authenticate,
// check_password_lifetime, acl_check_ssl) that follow from an account's facts
// alone, once its password is known to be right.
import type { Account, AccountPolicy } from '../accounts/account.js';
import type { BackendTlsOptions } from '../backend/connect.js';

/**
 * How sure the proxy is that the server sees the password as expired. The server
 * counts whole days from password_last_changed by its own clock; within MARGIN_S of
 * a day boundary the proxy cannot tell, and lets the compute decide ('unsure').
 */
export type Expiry = 'valid' | 'expired' | 'unsure';

const DAY_S = 86_400;
const MARGIN_S = 300;

export function passwordExpiry(a: Account, policy: AccountPolicy, nowMs: number): Expiry {
  if (a.passwordExpired) return 'expired';
  const lifetime = a.passwordLifetime < 0 ? policy.defaultPasswordLifetime : a.passwordLifetime;
  if (lifetime <= 0) return 'valid';
  const now = Math.floor(nowMs / 1000);
  const expiredAt = (t: number) => Math.trunc((t - a.passwordLastChanged) / DAY_S) >= lifetime;
  if (expiredAt(now - MARGIN_S)) return 'expired';
  return expiredAt(now + MARGIN_S) ? 'unsure' : 'valid';
}

/**
 * Whether the compute will accept the proxy's own connection for an account that
 * requires TLS: REQUIRE SSL needs TLS from proxy to compute; X509 and the
 * issuer/subject/cipher forms need a client certificate, which the proxy never sends.
 */
export function transportAccepted(a: Account, backendTls: BackendTlsOptions | undefined): boolean {
  if (a.ssl === 'none') return true;
  return a.ssl === 'any' && backendTls !== undefined;
}

/** The server's "unlimited" max_password_errors (and anything near it) needs no counting. */
export function countsPasswordErrors(a: Account, policy: AccountPolicy): boolean {
  return !a.neverBlocked && policy.maxPasswordErrors < 4_294_967_295;
}
