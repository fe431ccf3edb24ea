// What the quit and half-close tests compare: the bytes a raw client gets through each
// mode's proxy against what the server itself sends for the same writes, what they left
// in the table `q.t`, and which compute connection a pooled client is lent.
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import type { StandaloneMariadb } from './standalone-mariadb.js';
import { exchange, type ExchangeOptions } from './wire-exchange.js';
import { COMPUTE_THREAD } from './compute-thread.js';

/**
 * For each mode, `writes(marker)` through its proxy and directly, with the same marker
 * (the bytes name it): the modes whose bytes differ. `check` runs after each mode's pair.
 * The modes go at once (each its own proxy, sessions and marker): the writes' waits and
 * statements overlap instead of adding up.
 */
export async function differencesFromDirect(
  db: StandaloneMariadb,
  ports: Map<string, { port: number }>,
  writes: (marker: string) => Array<Buffer | number>,
  o: ExchangeOptions = {},
  check?: (mode: string, marker: string) => Promise<void>,
): Promise<string[]> {
  const found = await Promise.all(
    [...ports].map(async ([mode, { port }]) => {
      const marker = `via ${mode}`;
      const got = await exchange(port, writes(marker), o);
      const expected = await exchange(db.port, writes(marker), o);
      await check?.(mode, marker);
      return got.equals(expected) ? undefined : `${mode}: ${got.length} bytes, directly ${expected.length}`;
    }),
  );
  return found.filter((d): d is string => d !== undefined);
}

/** Rows of `q.t` holding `marker`, read on the server itself. */
export async function rowsWith(db: StandaloneMariadb, marker: string): Promise<number> {
  const c = await mysql.createConnection({ host: db.host, port: db.port, user: db.user, password: db.password });
  try {
    const [rows] = await c.query('SELECT COUNT(*) AS n FROM q.t WHERE v = ?', [marker]);
    return Number((rows as any[])[0].n);
  } finally {
    await c.end();
  }
}

/** An INSERT test's check: the marker's row went in once through the proxy and once directly. */
export function appliedOnceEachWay(db: StandaloneMariadb): (mode: string, marker: string) => Promise<void> {
  return async (mode, marker) => assert.equal(await rowsWith(db, marker), 2, `${mode}: applied once each way`);
}

/** The compute thread a new pooled client gets (compute-thread.ts). */
export async function pooledThread(port: number): Promise<number> {
  const c = await mysql.createConnection({ host: '127.0.0.1', port, user: 'app', password: 'app-secret' });
  try {
    const [rows] = await c.query(COMPUTE_THREAD);
    return Number((rows as any[])[0].id);
  } finally {
    await c.end();
  }
}
