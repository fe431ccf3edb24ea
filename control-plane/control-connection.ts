// A short-lived connection to a compute as the control plane's own account
// (control-account.ts), for what the control plane does on a compute beyond reading
// accounts: stop a statement a proxy's passthrough client left behind, check the
// compute still answers. Bounded from connect to the last answer; past it the socket
// is destroyed (a frozen compute accepts TCP but never greets).
import mysql from 'mysql2/promise';
import type { ControlLogin } from './control-account.js';
import type { ComputeEndpoint } from './drivers/driver.js';

export type RunQuery = (sql: string) => Promise<unknown>;

export async function withControlConnection<T>(
  endpoint: ComputeEndpoint,
  login: ControlLogin,
  timeoutMs: number,
  use: (query: RunQuery) => Promise<T>,
): Promise<T> {
  const where = `${endpoint.host}:${endpoint.port}`;
  let timer: NodeJS.Timeout | undefined;
  let conn: mysql.Connection | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      conn?.destroy();
      reject(new Error(`no answer from ${where} within ${timeoutMs} ms`));
    }, timeoutMs);
  });
  try {
    return await Promise.race([
      (async () => {
        conn = await mysql.createConnection({ ...endpoint, user: login.user, password: login.password, connectTimeout: timeoutMs });
        const c = conn;
        const result = await use(async (sql) => (await c.query(sql))[0]);
        // A polite COM_QUIT, so the server does not log an aborted connection.
        await c.end().catch(() => c.destroy());
        return result;
      })(),
      timedOut,
    ]);
  } catch (err) {
    conn?.destroy();
    throw err;
  } finally {
    clearTimeout(timer);
  }
}
