// A short-lived compute connection of the proxy's own, logged in as an account whose
// stage1 the proxy holds (a verified session's user, or an account the operator gave
// it), for what must not run on a client's connection: stopping a statement a client
// left behind, asking the compute what an account may do, reading its greeting at the
// proxy's start. Opened, used, closed (COM_QUIT first, so the compute logs no aborted
// connection).
import {
  CLIENT_LONG_FLAG,
  CLIENT_MULTI_RESULTS,
  CLIENT_PLUGIN_AUTH,
  CLIENT_PROTOCOL_41,
  CLIENT_SECURE_CONNECTION,
  CLIENT_TRANSACTIONS,
  UTF8MB4_GENERAL_CI,
  type Greeting,
} from '../protocol/index.js';
import type { BackendAddress } from './address.js';
import type { BackendTlsOptions } from './connect.js';
import { loginBackend } from './login.js';
import { quitConnection } from './quit-connection.js';
import type { CommandTarget } from './query.js';

export interface OwnAccount {
  user: string;
  /** SHA1(password): what a mysql_native_password login is made from. */
  stage1: Buffer;
}

export interface OwnConnectionOptions {
  /** Bound on connect and login; the caller bounds its own commands. */
  timeoutMs: number;
  tls?: BackendTlsOptions;
  signal?: AbortSignal;
}

/** What every MariaDB has: the capabilities of a plain text-protocol client. */
const OWN_CAPABILITIES = (CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH | CLIENT_TRANSACTIONS |
  CLIENT_MULTI_RESULTS | CLIENT_LONG_FLAG) >>> 0;

export async function withOwnConnection<T>(
  addr: BackendAddress,
  account: OwnAccount,
  o: OwnConnectionOptions,
  use: (target: CommandTarget, greeting: Greeting) => Promise<T>,
): Promise<T> {
  const key = { addr, user: account.user, database: null, capabilities: OWN_CAPABILITIES, mariadbCapabilities: 0, charset: UTF8MB4_GENERAL_CI };
  const conn = await loginBackend(key, account.stage1, { timeoutMs: o.timeoutMs, ...(o.tls ? { tls: o.tls } : {}) }, o.signal);
  try {
    return await use({ socket: conn.socket, capabilities: OWN_CAPABILITIES, mariadbCapabilities: 0 }, conn.greeting);
  } finally {
    quitConnection(conn.socket);
  }
}
