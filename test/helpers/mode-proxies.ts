// One proxy per mode in front of one standalone mariadbd, for tests that compare every
// mode with the server itself: pipe with passthrough auth, and pipe, session and
// transaction with the proxy's own checks (an accounts reader, which this creates).
import { startStandaloneMariadb, type StandaloneMariadb } from './standalone-mariadb.js';
import { startProxyProcess, type ProxyProcess } from './proxy-process.js';

export const MODES: Record<string, string[]> = {
  'pipe (passthrough)': [],
  'pipe (verified)': ['--pool-mode', 'pipe'],
  session: ['--pool-mode', 'session'],
  transaction: ['--pool-mode', 'transaction'],
};

export const READER_SQL = "CREATE USER 'reader'@'%' IDENTIFIED BY 'reader-secret';\nGRANT SELECT ON mysql.global_priv TO 'reader'@'%';";
const READER_FLAGS = ['--accounts-user', 'reader', '--accounts-password', 'reader-secret'];

export interface ModeProxies {
  db: StandaloneMariadb;
  /** By mode name (MODES' keys). */
  proxies: Map<string, ProxyProcess>;
  stop(): Promise<void>;
}

/** User `app` (password `app-secret`) on a fresh mariadbd, `initSql` run after the reader is made. */
export async function startModeProxies(initSql = ''): Promise<ModeProxies> {
  const db = await startStandaloneMariadb('app', 'app-secret', `${READER_SQL}\n${initSql}`);
  const proxies = new Map<string, ProxyProcess>();
  const stop = async () => {
    await Promise.all([...proxies.values()].map((p) => p.kill('SIGTERM')));
    await db.stop();
  };
  try {
    for (const [name, flags] of Object.entries(MODES)) {
      const reader = name === 'pipe (passthrough)' ? [] : READER_FLAGS;
      proxies.set(name, await startProxyProcess(['--backend', `${db.host}:${db.port}`, ...reader, ...flags]));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { db, proxies, stop };
}
