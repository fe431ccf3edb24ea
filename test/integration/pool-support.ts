// Shared by the pool-* integration tests: keys for a standalone mariadbd, and small
// wrappers over runQuery for raw COM_QUERY on a pooled connection.
import {
  CLIENT_CONNECT_ATTRS,
  CLIENT_DEPRECATE_EOF,
  CLIENT_LONG_FLAG,
  CLIENT_MULTI_RESULTS,
  CLIENT_MULTI_STATEMENTS,
  CLIENT_PLUGIN_AUTH,
  CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA,
  CLIENT_PROTOCOL_41,
  CLIENT_PS_MULTI_RESULTS,
  CLIENT_SECURE_CONNECTION,
  CLIENT_SESSION_TRACK,
  CLIENT_TRANSACTIONS,
  UTF8MB4_GENERAL_CI,
} from '../../protocol/constants.js';
import { poolCapabilities, type BackendKey } from '../../backend/login.js';
import { runQuery, type CommandTarget } from '../../backend/query.js';
import type { StandaloneMariadb } from '../helpers/standalone-mariadb.js';
import type { ProxyServer } from '../../proxy/server.js';

/** What a modern client negotiates: the set backend/login.ts documents. */
export const CLIENT_CAPS =
  (CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH | CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA |
    CLIENT_TRANSACTIONS | CLIENT_MULTI_STATEMENTS | CLIENT_MULTI_RESULTS | CLIENT_PS_MULTI_RESULTS |
    CLIENT_LONG_FLAG | CLIENT_CONNECT_ATTRS | CLIENT_SESSION_TRACK | CLIENT_DEPRECATE_EOF) >>> 0;

export function keyFor(db: StandaloneMariadb, over: Partial<BackendKey> = {}): BackendKey {
  const database = over.database ?? null;
  return {
    addr: { host: db.host, port: db.port, computeId: 'c-test' },
    user: db.user,
    database,
    capabilities: poolCapabilities(CLIENT_CAPS, database),
    mariadbCapabilities: 0,
    charset: UTF8MB4_GENERAL_CI,
    ...over,
  };
}

/** The first value of the first row; throws with the server's message on an error. */
export async function scalar(target: CommandTarget, sql: string): Promise<string | null> {
  const reply = await runQuery(target, sql);
  if (reply.kind === 'error') throw new Error(`${sql}: ${reply.error.code} ${reply.error.message}`);
  if (reply.kind !== 'rows') throw new Error(`${sql}: expected rows, got OK`);
  return reply.rows[0]?.[0] ?? null;
}

/** A statement that must answer OK. */
export async function exec(target: CommandTarget, sql: string): Promise<void> {
  const reply = await runQuery(target, sql);
  if (reply.kind === 'error') throw new Error(`${sql}: ${reply.error.code} ${reply.error.message}`);
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Poll `check` every 10 ms until it holds or `timeoutMs` passes. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(10);
  }
}

/** Pooled compute connections a proxy has lent out now. */
export function pooledInUse(proxy: ProxyServer): Promise<number> {
  return pooledCount(proxy, 'in_use');
}

/** A proxy's pooled connections in `state` now (in_use, idle, waiting borrowers, open). */
export async function pooledCount(proxy: ProxyServer, state: 'in_use' | 'idle' | 'waiting' | 'open'): Promise<number> {
  proxy.refreshMetrics();
  const m = await proxy.metrics.poolConnections.get();
  return m.values.find((v) => v.labels.state === state)?.value ?? -1;
}

/** wakeproxy_pool_session_pins_total by reason. */
export async function pinsByReason(proxy: ProxyServer): Promise<Record<string, number>> {
  const m = await proxy.metrics.sessionPins.get();
  return Object.fromEntries(m.values.map((v) => [String(v.labels.reason), v.value]));
}
