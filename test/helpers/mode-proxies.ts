// One proxy per mode in front of one standalone mariadbd, for tests that compare every
// mode with the server itself: pipe with passthrough auth, and pipe, session and
// transaction with the proxy's own checks (an accounts reader, which this creates).
// As processes started the way an operator starts them, or in this process for a test
// that sets what no flag does.
import { startStandaloneMariadb, type StandaloneMariadb } from './standalone-mariadb.js';
import { startProxyProcess, type ProxyProcess } from './proxy-process.js';
import { testLogger } from './logger.js';
import { startProxy, type ProxyOptions, type ProxyServer } from '../../proxy/server.js';
import { createStaticResolver } from '../../control-client/static-resolver.js';
import { createBackendAccountVerifiers } from '../../control-client/backend-account-verifiers.js';
import { createBackendPools, defaultGrowDelayMs } from '../../pool/backend-pool.js';
import type { Pooling } from '../../proxy/session-context.js';
import { STORED_CODE_PROCEDURE, storedCodeProcedureSql } from '../../accounts/stored-code.js';

export const MODES: Record<string, string[]> = {
  'pipe (passthrough)': [],
  'pipe (verified)': ['--pool-mode', 'pipe'],
  session: ['--pool-mode', 'session'],
  transaction: ['--pool-mode', 'transaction'],
};

/** The accounts reader an operator makes for a static backend (README): the accounts, and the stored code transaction pooling pins on. */
export const READER_SQL = readerSql('reader', 'reader-secret');
export const READER = { user: 'reader', password: 'reader-secret' };
const READER_FLAGS = ['--accounts-user', READER.user, '--accounts-password', READER.password];

/** An accounts reader: SELECT on mysql.global_priv and mysql.roles_mapping, EXECUTE on the stored-code procedure (made here as root). */
export function readerSql(user: string, password: string): string {
  return [
    `CREATE USER '${user}'@'%' IDENTIFIED BY '${password}';`,
    `GRANT SELECT ON mysql.global_priv TO '${user}'@'%';`,
    `GRANT SELECT ON mysql.roles_mapping TO '${user}'@'%';`,
    storedCodeProcedureSql("'root'@'localhost'"),
    `GRANT EXECUTE ON PROCEDURE ${STORED_CODE_PROCEDURE} TO '${user}'@'%';`,
  ].join('\n');
}

export interface ModeProxies {
  db: StandaloneMariadb;
  /** By mode name (MODES' keys). */
  proxies: Map<string, ProxyProcess>;
  stop(): Promise<void>;
}

export interface ModeProxiesOptions {
  /** More mariadbd options (a certificate, for TLS directly). */
  mariadbArgs?: string[];
  /** More flags for every proxy (its own certificate, for TLS on the client hop). */
  proxyFlags?: string[];
}

/** User `app` (password `app-secret`) on a fresh mariadbd, `initSql` run after the reader is made. */
export async function startModeProxies(initSql = '', o: ModeProxiesOptions = {}): Promise<ModeProxies> {
  const db = await startStandaloneMariadb('app', 'app-secret', `${READER_SQL}\n${initSql}`, o.mariadbArgs ?? []);
  const proxies = new Map<string, ProxyProcess>();
  const stop = async () => {
    await Promise.all([...proxies.values()].map((p) => p.kill('SIGTERM')));
    await db.stop();
  };
  // Started together (each is a node process that takes a while to load), kept in MODES' order.
  const started = await Promise.allSettled(
    Object.entries(MODES).map(([name, flags]) => {
      const reader = name === 'pipe (passthrough)' ? [] : READER_FLAGS;
      return startProxyProcess(['--backend', `${db.host}:${db.port}`, ...reader, ...flags, ...(o.proxyFlags ?? [])]);
    }),
  );
  Object.keys(MODES).forEach((name, i) => {
    const s = started[i]!;
    if (s.status === 'fulfilled') proxies.set(name, s.value);
  });
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await stop();
    throw failed.reason;
  }
  return { db, proxies, stop };
}

/** A proxy of one of MODES in this process before `backend`, with `extra` options; stop() closes what it made. */
export async function startModeProxy(
  mode: string,
  backend: { host: string; port: number },
  extra: Partial<Omit<ProxyOptions, 'resolver' | 'logger'>> = {},
): Promise<{ proxy: ProxyServer; stop(): Promise<void> }> {
  if (!(mode in MODES)) throw new Error(`no mode ${mode}`);
  const logger = testLogger();
  const verifiers = mode === 'pipe (passthrough)' ? undefined : createBackendAccountVerifiers({ backend, login: READER, ttlMs: 5_000, logger });
  const pooling: Pooling =
    mode === 'session' || mode === 'transaction'
      ? { mode, pools: createBackendPools({ maxPerCompute: 10, idleTimeoutMs: 30_000, acquireTimeoutMs: 5_000, growDelayMs: defaultGrowDelayMs(mode), logger }) }
      : { mode: 'pipe' };
  const proxy = await startProxy({
    host: '127.0.0.1',
    port: 0,
    resolver: createStaticResolver(backend),
    routing: { projectOptional: true },
    logger,
    pooling,
    ...(verifiers ? { verifiers } : {}),
    ...extra,
  });
  return {
    proxy,
    async stop() {
      await proxy.close();
      await verifiers?.close();
    },
  };
}
