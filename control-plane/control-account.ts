// The control plane's own login to a compute, made at provisioning so it can read
// the compute's accounts (role verifiers) while it is awake, check the compute
// answers, stop a statement whose client left a proxy (KILL QUERY, for
// passthrough clients the proxy cannot log in as), and resize it. It may read
// mysql.global_priv and mysql.roles_mapping, read the server's status (no
// privilege needed), kill other users' statements (CONNECTION ADMIN), call two
// procedures that set the buffer pool size and max_connections, and one that
// lists the stored code (routines, triggers, views) transaction pooling must know
// of (accounts/stored-code.ts), and nothing else: no data, no writes, no other SET
// GLOBAL, at most a few connections. Those two settings need SUPER, which would
// also let whoever has the login set any other global (general_log_file, say),
// and seeing every trigger needs TRIGGER, which can also make and drop them; the
// procedures run as root@localhost (SQL SECURITY DEFINER) and do only what their
// names say. Its password is random, kept in the state file (0600) and never
// shown; the compute's init SQL holds only its verifier, like the owner's.
//
// Where it may connect from is the driver's call: the process driver's computes
// listen on 127.0.0.1 next to the control plane ('127.0.0.1'); a Kubernetes pod is
// reached from another pod ('%').
import { randomBytes } from 'node:crypto';
import { formatNativeVerifier, nativePasswordVerifier } from '../protocol/auth/native-password.js';
import { STORED_CODE_PROCEDURE, storedCodeProcedureSql } from '../accounts/stored-code.js';

/** Reserved: never served as a role, so no client can be verified as it. */
export const CONTROL_USER = 'wakeproxy_ctl';

/** Concurrent connections the account may hold per compute: a role read, a greeting read, a probe, a KILL, an autoscaler sample and a resize. */
const MAX_CONNECTIONS = 6;

/** What the autoscaler calls to resize a compute; a compute provisioned before them has neither. */
export const SET_BUFFER_POOL = 'mysql.wakeproxy_set_buffer_pool';
export const SET_MAX_CONNECTIONS = 'mysql.wakeproxy_set_max_connections';
/** The procedures' definer: the installer's root, which exists in every datadir (unix_socket, or the image's). */
const DEFINER = "'root'@'localhost'";

const USER = /^[A-Za-z0-9_]{1,32}$/;
const HOST = /^(%|[0-9A-Za-z.:-]{1,60})$/;
const VERIFIER = /^\*[0-9A-F]{40}$/;

/** What the control plane keeps (in the compute's record) to log in. */
export interface ControlLogin {
  user: string;
  password: string;
}

/** What the compute's init SQL needs to create the account. */
export interface ControlGrant {
  user: string;
  host: string;
  verifier: string;
}

export function generateControlLogin(): ControlLogin {
  return { user: CONTROL_USER, password: randomBytes(24).toString('base64url') };
}

export function controlVerifier(login: ControlLogin): string {
  return formatNativeVerifier(nativePasswordVerifier(login.password));
}

/** CREATE USER + its grants; every value is checked before it reaches a SQL literal. */
export function controlAccountSql(g: ControlGrant): string {
  if (!USER.test(g.user)) throw new Error(`control account name '${g.user}' must match ${USER}`);
  if (!HOST.test(g.host)) throw new Error(`control account host '${g.host}' must match ${HOST}`);
  if (!VERIFIER.test(g.verifier)) throw new Error(`control account verifier is not '*' and 40 uppercase hex digits`);
  const account = `'${g.user}'@'${g.host}'`;
  // Single-statement procedures: the server's --init-file reader takes one statement per ';'-ended line.
  return [
    `CREATE USER IF NOT EXISTS ${account} IDENTIFIED BY PASSWORD '${g.verifier}' WITH MAX_USER_CONNECTIONS ${MAX_CONNECTIONS};`,
    `GRANT SELECT ON mysql.global_priv TO ${account};`,
    `GRANT SELECT ON mysql.roles_mapping TO ${account};`,
    `GRANT CONNECTION ADMIN ON *.* TO ${account};`,
    `CREATE DEFINER = ${DEFINER} PROCEDURE IF NOT EXISTS ${SET_BUFFER_POOL}(IN bytes BIGINT UNSIGNED) SQL SECURITY DEFINER SET GLOBAL innodb_buffer_pool_size = bytes;`,
    `CREATE DEFINER = ${DEFINER} PROCEDURE IF NOT EXISTS ${SET_MAX_CONNECTIONS}(IN n INT UNSIGNED) SQL SECURITY DEFINER SET GLOBAL max_connections = n;`,
    `GRANT EXECUTE ON PROCEDURE ${SET_BUFFER_POOL} TO ${account};`,
    `GRANT EXECUTE ON PROCEDURE ${SET_MAX_CONNECTIONS} TO ${account};`,
    storedCodeProcedureSql(DEFINER),
    `GRANT EXECUTE ON PROCEDURE ${STORED_CODE_PROCEDURE} TO ${account};`,
    '',
  ].join('\n');
}
