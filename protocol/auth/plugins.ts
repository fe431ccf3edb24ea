// Which authentication methods an account can use through a TCP proxy at all.
// https://mariadb.com/kb/en/authentication-plugins/
//
// unix_socket and named_pipe take the identity from the local socket's peer, which a
// proxy never is; mysql_old_password is refused by a server in --secure-auth mode
// (on by default in MariaDB 10.11: error 1275), and its 8-byte scramble is too weak
// to verify in the proxy anyway. An
// account whose only methods are these can never log in through the proxy, so a
// client naming it must never wake a compute.

export const UNIX_SOCKET_PLUGIN = 'unix_socket';
export const NAMED_PIPE_PLUGIN = 'named_pipe';
export const OLD_PASSWORD_PLUGIN = 'mysql_old_password';
export const ED25519_PLUGIN = 'ed25519';

const LOCAL_ONLY = new Set([UNIX_SOCKET_PLUGIN, NAMED_PIPE_PLUGIN]);

/** True for a method that can never succeed through a proxy (see the file's header). */
export function unusableThroughProxy(plugin: string): boolean {
  return LOCAL_ONLY.has(plugin) || plugin === OLD_PASSWORD_PLUGIN;
}

/** The method identifies the peer of a local socket. */
export function localSocketOnly(plugin: string): boolean {
  return LOCAL_ONLY.has(plugin);
}
