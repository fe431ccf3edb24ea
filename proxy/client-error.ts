// The only error class whose text reaches a client, as a MySQL ERR packet.
// Anything else is logged with its cause and reaches the client as a generic
// error, so internal detail never leaks.

export class ClientError extends Error {
  override readonly name = 'ClientError';
  constructor(
    readonly code: number,
    readonly sqlState: string,
    message: string,
    /** Short machine-readable reason for logs and metrics. */
    readonly kind: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

// Codes as the MariaDB server uses them, so drivers react as they would to the server.
export const ER_CON_COUNT_ERROR = 1040;
export const ER_HANDSHAKE_ERROR = 1043;
export const ER_ACCESS_DENIED_ERROR = 1045;
export const ER_NET_PACKET_TOO_LARGE = 1153;
export const ER_WRONG_VALUE_FOR_VAR = 1231;
export const ER_INVALID_CHARACTER_STRING = 1300;
export const ER_UNKNOWN_ERROR = 1105;
export const ER_CONNECT_TO_FOREIGN_DATA_SOURCE = 1429;
export const ER_SERVER_SHUTDOWN = 1053;
export const ER_USER_LIMIT_REACHED = 1226;
export const ER_HOST_IS_BLOCKED = 1129;
export const ER_NOT_SUPPORTED_AUTH_MODE = 1251;
export const ER_SERVER_IS_IN_SECURE_AUTH_MODE = 1275;
export const ER_ACCESS_DENIED_NO_PASSWORD_ERROR = 1698;
export const ER_MUST_CHANGE_PASSWORD_LOGIN = 1862;
export const ER_USER_IS_BLOCKED = 4150;
export const ER_ACCOUNT_HAS_BEEN_LOCKED = 4151;
/** MySQL's code for require_secure_transport refusals; clients know it. */
export const ER_SECURE_TRANSPORT_REQUIRED = 3159;
/** wake-proxy's own: the project is over its plan's quota. Outside every range MySQL and MariaDB use. */
export const ER_WAKEPROXY_QUOTA_EXCEEDED = 7001;

export function accessDenied(user: string, host: string, usingPassword: boolean): ClientError {
  return new ClientError(
    ER_ACCESS_DENIED_ERROR,
    '28000',
    `Access denied for user '${user}'@'${host}' (using password: ${usingPassword ? 'YES' : 'NO'})`,
    'access_denied',
  );
}

/** MariaDB's answer when the account's method failed without a password being at issue (unix_socket). */
export function accessDeniedNoPassword(user: string, host: string): ClientError {
  return new ClientError(ER_ACCESS_DENIED_NO_PASSWORD_ERROR, '28000', `Access denied for user '${user}'@'${host}'`, 'access_denied');
}

/**
 * MariaDB's answer to a client without CLIENT_PLUGIN_AUTH that it would have to switch
 * to another plugin or scramble: such a client cannot read an auth switch request.
 */
export function authModeUnsupported(): ClientError {
  return new ClientError(
    ER_NOT_SUPPORTED_AUTH_MODE,
    '08004',
    'Client does not support authentication protocol requested by server; consider upgrading MariaDB client',
    'auth_mode_unsupported',
  );
}

export function oldPasswordRefused(user: string, host: string): ClientError {
  return new ClientError(
    ER_SERVER_IS_IN_SECURE_AUTH_MODE,
    'HY000',
    `Server is running in --secure-auth mode, but '${user}'@'${host}' has a password in the old format; please change the password to the new format`,
    'access_denied',
  );
}

/** The right password for a locked account (ACCOUNT LOCK); a wrong one gets 1045 first. */
export function accountLocked(): ClientError {
  return new ClientError(ER_ACCOUNT_HAS_BEEN_LOCKED, 'HY000', 'Access denied, this account is locked', 'account_locked');
}

/** max_password_errors reached: refused whatever the password, until the account changes. */
export function userBlocked(): ClientError {
  return new ClientError(
    ER_USER_IS_BLOCKED,
    'HY000',
    "User is blocked because of too many credential errors; unblock with 'ALTER USER / FLUSH PRIVILEGES'",
    'user_blocked',
  );
}

/** An expired password, disconnect_on_expired_password on, and a client that cannot handle the sandbox. */
export function mustChangePasswordLogin(): ClientError {
  return new ClientError(
    ER_MUST_CHANGE_PASSWORD_LOGIN,
    'HY000',
    'Your password has expired. To log in you must change it using a client that supports expired passwords',
    'password_expired',
  );
}

/** max_password_errors applies but the shared counters cannot be read: no verdict, so no login. */
export function cannotCount(project: string, err: unknown): ClientError {
  return new ClientError(
    ER_CONNECT_TO_FOREIGN_DATA_SOURCE,
    'HY000',
    `wake-proxy: cannot verify logins to project '${project}' now (failed-login counters unavailable); try again shortly`,
    'password_errors_unavailable',
    { cause: err },
  );
}

/**
 * The control API could not say how the user authenticates, and no earlier answer is
 * at hand: neither a wrong password (1045) nor a reason to let the compute judge.
 */
export function cannotVerify(project: string, err: unknown): ClientError {
  return new ClientError(
    ER_CONNECT_TO_FOREIGN_DATA_SOURCE,
    'HY000',
    `wake-proxy: cannot verify logins to project '${project}' now (the control plane did not answer); try again shortly`,
    'verifier_unavailable',
    { cause: err },
  );
}

export function projectRequired(user: string, databaseRouting = false): ClientError {
  return new ClientError(
    ER_ACCESS_DENIED_ERROR,
    '28000',
    `Access denied for user '${user}': name the project in the user name as <project>.<user>, e.g. 'shop.${user || 'app'}'${databaseRouting ? ", or in the database as <project> or <project>/<database>" : ''}`,
    'project_required',
  );
}

/** `detail`: what was wrong, for the client and the log; none for MariaDB's own bare "Bad handshake". */
export function badHandshake(detail?: string, cause?: unknown): ClientError {
  return new ClientError(ER_HANDSHAKE_ERROR, '08S01', detail ? `Bad handshake: ${detail}` : 'Bad handshake', 'bad_handshake', { cause });
}

/** A HandshakeResponse the server too would not read: its own answer, word for word. */
export function malformedHandshake(cause: unknown): ClientError {
  return new ClientError(ER_HANDSHAKE_ERROR, '08S01', 'Bad handshake', 'bad_handshake', { cause });
}

/**
 * A database name at login with bytes its character set cannot read: the server's
 * 1300, before the login is judged, with the name printed as it prints it (printable
 * ASCII as is, other bytes as \xHH, cut at 64 characters).
 */
export function invalidCharacterString(charset: string, bytes: Buffer, cause: unknown): ClientError {
  let printable = '';
  for (const b of bytes) printable += b >= 0x20 && b <= 0x7f ? String.fromCharCode(b) : `\\x${b.toString(16).toUpperCase().padStart(2, '0')}`;
  if (printable.length > 64) printable = `${printable.slice(0, 61)}...`;
  return new ClientError(ER_INVALID_CHARACTER_STRING, 'HY000', `Invalid ${charset} character string: '${printable}'`, 'bad_handshake', { cause });
}

/** A handshake in a character set no client may use (ucs2, utf16, utf16le, utf32): the server's words, before the login is judged. */
export function clientCharsetRefused(charset: string, cause: unknown): ClientError {
  return new ClientError(ER_WRONG_VALUE_FOR_VAR, '42000', `Variable 'character_set_client' can't be set to the value of '${charset}'`, 'bad_handshake', { cause });
}

export function packetTooLarge(): ClientError {
  return new ClientError(
    ER_NET_PACKET_TOO_LARGE,
    '08S01',
    "Got a packet bigger than 'max_allowed_packet' bytes",
    'packet_too_large',
  );
}

/** The compute could not be woken or reached: names the project and the cause. */
export function computeUnavailable(project: string, cause: string, kind: string, err?: unknown): ClientError {
  return new ClientError(
    ER_CONNECT_TO_FOREIGN_DATA_SOURCE,
    'HY000',
    `wake-proxy: compute of project '${project}' is unavailable: ${cause}`,
    kind,
    { cause: err },
  );
}

/**
 * The project's plan does not let its compute run now, in the control plane's
 * words (they name the project and the quota). Verified logins get it only
 * after their password was checked.
 */
export function quotaExceeded(cause: string, err?: unknown): ClientError {
  return new ClientError(ER_WAKEPROXY_QUOTA_EXCEEDED, '08004', `wake-proxy: ${cause}`, 'quota_exceeded', { cause: err });
}

export function shuttingDown(): ClientError {
  return new ClientError(ER_SERVER_SHUTDOWN, '08S01', 'wake-proxy is shutting down', 'shutdown');
}

export function internalError(connId: number): ClientError {
  return new ClientError(
    ER_UNKNOWN_ERROR,
    'HY000',
    `wake-proxy: internal error (connection ${connId}); see the proxy log`,
    'internal',
  );
}

export function tlsRequired(): ClientError {
  return new ClientError(
    ER_SECURE_TRANSPORT_REQUIRED,
    'HY000',
    'Connections using insecure transport are prohibited: this proxy requires TLS (connect with SSL enabled)',
    'tls_required',
  );
}

export function tlsUnavailable(): ClientError {
  return new ClientError(
    ER_HANDSHAKE_ERROR,
    '08S01',
    'TLS is not available: this proxy has no certificate configured; connect without SSL',
    'tls_unavailable',
  );
}

export function sniMismatch(sniProject: string, userProject: string): ClientError {
  return new ClientError(
    ER_ACCESS_DENIED_ERROR,
    '28000',
    `The TLS server name names project '${sniProject}' but the user name names project '${userProject}'; use one or make them agree`,
    'sni_mismatch',
  );
}
