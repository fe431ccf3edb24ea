// A compute's accounts as the proxy needs them to judge a login the way the
// compute would: every account (user@host), its methods in the server's order,
// lock and password-expiry facts, and the server settings that bear on a login.
// Read by the control plane (or, for a static backend, by the proxy itself) from
// mysql.global_priv; see global-priv.ts for how a row becomes an Account. The
// names of the compute's stored code that transaction pooling pins on come with
// them (stored-code.ts): read at the same moments, served in the same answer.
import type { StoredCode } from './stored-code.js';

/** One authentication method of an account, in the order the server tries them. */
export interface AuthMethod {
  plugin: string;
  /**
   * mysql_native_password only: the stored hash ('*' and 40 hex digits, or '' for no
   * password). Absent when the stored string is no hash (root's 'invalid'): then no
   * password passes, and the server says 1045 (using password: YES).
   */
  verifier?: string;
}

/** REQUIRE SSL / X509 / ISSUER-SUBJECT-CIPHER, as the server's ssl_type 1, 2, 3. */
export type SslRequirement = 'none' | 'any' | 'x509' | 'specified';

export interface Account {
  /** '' for an anonymous account, which matches any user name. */
  user: string;
  host: string;
  /** Empty when the row could not be read: no login passes it. */
  methods: AuthMethod[];
  locked: boolean;
  /** PASSWORD EXPIRE (the server stores it as password_last_changed = 0). */
  passwordExpired: boolean;
  /** Seconds since the epoch; 0 when the row has none. */
  passwordLastChanged: number;
  /** Days; -1: the server's default_password_lifetime; 0: never expires. */
  passwordLifetime: number;
  ssl: SslRequirement;
  /** CONNECTION ADMIN on a loopback host: max_password_errors never blocks it. */
  neverBlocked: boolean;
  /**
   * MAX_USER_CONNECTIONS, MAX_CONNECTIONS_PER_HOUR, MAX_QUERIES_PER_HOUR or
   * MAX_UPDATES_PER_HOUR set, or the server's max_user_connections: the compute counts
   * this account's connections, logins or statements, so each of its sessions gets a
   * compute connection of its own, as a direct client has.
   */
  resourceLimited: boolean;
  /** MAX_STATEMENT_TIME: seconds with six decimals, which a login sets max_statement_time to; absent when not set. */
  statementTime?: string;
  /** A digest of the row as stored: any change to the account (password, lock, expiry, global privileges) changes it. */
  version: string;
  /**
   * For an account whose row names a default role: a digest of what its logins take from
   * that role (default-roles.ts), which a pooled connection stands for with the version.
   */
  roleVersion?: string;
}

/** What a session of the account keeps from its login: its row's version, joined with its default role's. */
export function privilegeVersion(a: Account): string {
  return a.roleVersion === undefined ? a.version : `${a.version}.${a.roleVersion}`;
}

/** An account as CREATE USER makes it with these methods: unlocked, no expiry, no TLS required. */
export function plainAccount(user: string, host: string, methods: AuthMethod[], version: string): Account {
  return {
    user,
    host,
    methods,
    locked: false,
    passwordExpired: false,
    passwordLastChanged: 0,
    passwordLifetime: -1,
    ssl: 'none',
    neverBlocked: false,
    resourceLimited: false,
    version,
  };
}

/** Server settings read with the accounts. */
export interface AccountPolicy {
  /** Days; 0: passwords never expire by age. */
  defaultPasswordLifetime: number;
  disconnectOnExpiredPassword: boolean;
  /** Failed logins after which an account is blocked (4150); 4294967295 is the server's "unlimited". */
  maxPasswordErrors: number;
}

/** The server's defaults, used until a compute's settings have been read. */
export const DEFAULT_POLICY: AccountPolicy = {
  defaultPasswordLifetime: 0,
  disconnectOnExpiredPassword: false,
  maxPasswordErrors: 4_294_967_295,
};

/** What the control plane last read from a compute; kept in its record. */
export interface ComputeAccounts {
  readAt: string;
  /** Every account but roles, in the server's order (account-order.ts). */
  accounts: Account[];
  policy: AccountPolicy;
  /** Absent in what a control plane from before it saved: unknown. */
  storedCode?: StoredCode;
}

/** What the proxy is told for one user name: the accounts a login by that name can match. */
export interface UserAccounts {
  user: string;
  /** The user's own accounts, then the anonymous ones, each group in the server's order. */
  candidates: Account[];
  policy: AccountPolicy;
  /** The compute's stored code that pins (names null: unknown); absent when there is no compute to speak of (no such project). */
  storedCode?: StoredCode;
}

export const NATIVE_PASSWORD = 'mysql_native_password';

/** MariaDB user names are at most 128 characters; the server cuts longer ones at login. */
export const MAX_USER_LENGTH = 128;

/** user@host as the server prints an account in its messages. */
export function accountName(a: Pick<Account, 'user' | 'host'>): string {
  return `'${a.user}'@'${a.host}'`;
}
