// A compute's greeting, read before the proxy greets anyone: the server version,
// capabilities and default collation clients would see connecting to it directly.
//
// The server counts a connection closed after its greeting without a handshake
// response as a failed connect (Aborted_connects and Aborted_connects_preauth; with name
// resolution on, a handshake error of the proxy's host toward max_connect_errors, which
// the next successful login from it resets). With an account the proxy logs in instead
// and says COM_QUIT, which counts nothing.
import type { Greeting } from '../protocol/index.js';
import type { BackendAddress } from './address.js';
import { connectBackend, type BackendTlsOptions } from './connect.js';
import { withOwnConnection, type OwnAccount } from './own-connection.js';

export interface ReadGreetingOptions {
  /** Log in as this account (and quit) rather than close after the greeting. */
  account?: OwnAccount;
  /** Bound on connect, greeting and login together. */
  timeoutMs: number;
  /** TLS for the account's login; the greeting itself comes before any TLS. */
  tls?: BackendTlsOptions;
}

export async function readGreeting(addr: BackendAddress, o: ReadGreetingOptions): Promise<Greeting> {
  if (o.account) {
    const own = { timeoutMs: o.timeoutMs, ...(o.tls ? { tls: o.tls } : {}) };
    return withOwnConnection(addr, o.account, own, async (_target, greeting) => greeting);
  }
  const conn = await connectBackend(addr, o.timeoutMs);
  // Nothing unread is left (the greeting was the compute's only packet), so this is a FIN, not a reset.
  conn.socket.destroy();
  return conn.greeting;
}
