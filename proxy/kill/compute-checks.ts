// What the proxy asks of a compute for KILL, on a connection of its own
// (backend/own-connection.ts): stop a statement, and whether an account may kill
// other users' threads.
import { runQuery, type CommandTarget } from '../../backend/query.js';

/** KILL QUERY on the compute; true when it stopped the statement or the thread was gone already. */
export async function killQuery(target: CommandTarget, thread: number, timeoutMs: number): Promise<boolean> {
  const reply = await runQuery(target, `KILL QUERY ${thread}`, timeoutMs);
  return reply.kind === 'ok' || (reply.kind === 'error' && reply.error.code === 1094);
}

// `GRANT <privileges> ON *.* TO ...`: the account's global grants and its active role's.
const GLOBAL_GRANT = /^GRANT (.+?) ON \*\.\* TO /;
const KILL_OTHERS = new Set(['ALL PRIVILEGES', 'SUPER', 'CONNECTION ADMIN']);

/**
 * Whether the connection's account (and its default role) holds CONNECTION ADMIN or
 * SUPER, as SHOW GRANTS reports them: what MariaDB requires to kill another user's
 * thread. Anything unexpected answers false.
 */
export async function holdsConnectionAdmin(target: CommandTarget, timeoutMs: number): Promise<boolean> {
  const reply = await runQuery(target, 'SHOW GRANTS', timeoutMs);
  if (reply.kind !== 'rows') return false;
  return reply.rows.some(([grant]) => {
    const privileges = grant ? GLOBAL_GRANT.exec(grant)?.[1] : undefined;
    return privileges !== undefined && privileges.split(',').some((p) => KILL_OTHERS.has(p.trim().toUpperCase()));
  });
}
