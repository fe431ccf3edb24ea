// What a verified login checks on its compute connection before the client is told OK,
// each refusing the login as MariaDB would have and ending that connection: the
// init_connect a reused pooled connection missed, and the source address the compute
// saw when it is not the one the account was matched for. A direct login gets both from
// the server itself; the proxy logs in once per pooled connection and from an address
// it can only learn, so it repeats them here.
import type { BackendPools } from '../pool/backend-pool.js';
import type { PooledBackend } from '../pool/pooled-backend.js';
import { runInitConnect } from '../backend/health.js';
import { ClientError, accessDenied } from './client-error.js';
import { limitKey, type Route } from './routing.js';
import type { SessionContext } from './session-context.js';
import type { CredentialOutcome } from './credential-check.js';
import type { BorrowedBackend, OwnBackend } from './attached-backend.js';
import { pickAccount } from '../accounts/account-order.js';
import { serverUserName } from '../accounts/user-accounts.js';

/** What the server answers a login whose init_connect failed. */
const ER_NEW_ABORTING_CONNECTION = 1184;

/**
 * A reused connection missed the init_connect the server runs at each login for users
 * without CONNECTION ADMIN or SUPER: run for this client, as its login would have. A
 * failure refuses the login, as the server does (1184), and the connection goes.
 */
export async function initConnect(ctx: SessionContext, route: Route, pools: BackendPools, pooled: PooledBackend, sql: string): Promise<void> {
  try {
    await runInitConnect(pooled, sql, ctx.cfg.connectTimeoutMs);
  } catch (err) {
    await pools.release(pooled, { dirty: true });
    const message = `Aborted connection ${ctx.id} to db: '${route.database ?? 'unconnected'}' user: '${route.backendUser}' host: '${ctx.clientAddress}' (init_connect command failed)`;
    throw new ClientError(ER_NEW_ABORTING_CONNECTION, '08S01', message, 'init_connect_failed', { cause: err });
  }
}

/**
 * The account was matched for the address the proxy expected to connect from: learn
 * the address the connection came from, and return it if it is another (else null).
 */
export function sourceAddressChanged(
  ctx: SessionContext,
  creds: Extract<CredentialOutcome, { kind: 'verified' }>,
  attached: Omit<OwnBackend, 'clientLeftover'> | Omit<BorrowedBackend, 'clientLeftover'>,
): string | null {
  const socket = attached.kind === 'pooled' ? attached.pooled.socket : attached.socket;
  const actual = ctx.cfg.sourceAddress.learn(socket.localAddress);
  return actual && actual !== creds.sourceIp ? actual : null;
}

/**
 * The connection came from another address than the account was matched for, so the
 * compute may have picked another account: if the match differs, end the connection
 * and refuse rather than run the client as an account it was not judged for.
 */
export async function checkSourceAddress(
  ctx: SessionContext,
  route: Route,
  creds: Extract<CredentialOutcome, { kind: 'verified' }>,
  attached: Omit<OwnBackend, 'clientLeftover'> | Omit<BorrowedBackend, 'clientLeftover'>,
  actual: string,
): Promise<void> {
  const accounts = await ctx.cfg.verifiers?.get(limitKey(route), route.backendUser, ctx.abort.signal).catch(() => undefined);
  const again = accounts && pickAccount(accounts.candidates, serverUserName(route.backendUser), actual);
  if (again && again.user === creds.account.user && again.host === creds.account.host) return;
  ctx.log.warn({ expected: creds.sourceIp, actual }, 'compute saw another source address than the login was judged for; refused');
  if (attached.kind === 'pooled') await attached.pooling.pools.release(attached.pooled, { dirty: true });
  else attached.socket.destroy();
  throw accessDenied(route.backendUser, actual, true);
}
