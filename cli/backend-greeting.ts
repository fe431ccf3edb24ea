// A static backend's greeting, read once before the proxy accepts anyone, so even its
// first clients are greeted as the backend greets them directly: drivers that take
// their connection collation from the greeting (the npm mariadb connector, mysqlnd,
// Connector/J) otherwise pick it from the proxy's built-in profile (latin1) until a
// first login has shown the proxy a compute's greeting (proxy/greeting-profile.ts).
//
// The least the backend notices: with --accounts-user, a login as that account, closed
// with COM_QUIT (the server counts nothing). Without it, a passthrough proxy that
// connects at accept (the default) already greets each client after the compute's own
// greeting, so nothing is read; with --connect-at-accept false, a connection closed
// after the greeting, which the server counts as one aborted connect (see
// backend/read-greeting.ts). A control plane's computes are unknown before a client
// names its project: nothing to read there (README, "Pool modes").
import type { Logger } from 'pino';
import type { BackendAddress } from '../backend/address.js';
import type { BackendTlsOptions } from '../backend/connect.js';
import { readGreeting } from '../backend/read-greeting.js';
import { nativePasswordStage1, type Greeting } from '../protocol/index.js';

export interface BackendGreetingOptions {
  backend: BackendAddress;
  /** --accounts-user and its password. */
  accounts?: { user: string; password: string };
  connectAtAccept: boolean;
  connectTimeoutMs: number;
  backendTls?: BackendTlsOptions;
  logger: Logger;
}

/** The backend's greeting, or undefined when it need not or could not be read (then logged once). */
export async function backendGreeting(o: BackendGreetingOptions): Promise<Greeting | undefined> {
  if (!o.accounts && o.connectAtAccept) return undefined;
  const where = `${o.backend.host}:${o.backend.port}`;
  try {
    return await readGreeting(o.backend, {
      timeoutMs: o.connectTimeoutMs,
      ...(o.accounts ? { account: { user: o.accounts.user, stage1: nativePasswordStage1(o.accounts.password) } } : {}),
      ...(o.backendTls ? { tls: o.backendTls } : {}),
    });
  } catch (err) {
    o.logger.warn(
      { backend: where, err: (err as Error).message },
      "could not read the backend's greeting at start: until a client logs in, clients are greeted with the proxy's built-in profile (latin1, MariaDB 10.11), so drivers that take their collation from the greeting may pick another than directly",
    );
    return undefined;
  }
}
