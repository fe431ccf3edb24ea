// What a session's KILL comes to, the same in every pool mode:
//
// - KILL <session id> (an id this or another proxy issued, >= 2^30) acts on the
//   compute thread serving that session now. The rewritten KILL runs on the killer's
//   own compute connection, so the compute applies its own rules (same user, or
//   CONNECTION ADMIN / SUPER). A session between statements (pooled) has no thread:
//   KILL QUERY is then an OK, KILL CONNECTION ends the session; the proxy applies the
//   compute's rule itself (the same user name, or an account the compute says holds
//   CONNECTION ADMIN or SUPER).
// - A session on another compute than the killer's, or an id no proxy knows: 1094
//   Unknown thread id, never a KILL of an unrelated thread with the same number.
// - The session's own id (or CONNECTION_ID()): its own compute connection, as the
//   server does it (1317 for a query, 1927 and the close for the connection).
// - A compute thread id (< 2^30): pipe sessions own their compute connection, so the
//   KILL goes to the compute as written; pooled sessions share theirs: 1094.
// - KILL QUERY ID, KILL USER, an id given as an expression: as written in pipe mode;
//   pooled, refused (query ids and users span sessions the proxy cannot tell apart on
//   shared connections; an expression the compute would evaluate on the wrong one).
import type { ErrPacket } from '../../protocol/index.js';
import type { KillAction, KillScope, KillStatement } from '../../relay/intercepted-command.js';
import type { KillPeers, RemoteTarget } from './kill-peers.js';
import type { KillTarget } from './session-registry.js';
import { instanceOf, isSessionId } from './session-ids.js';

/** The session that sent the KILL. */
export interface Killer {
  id: number;
  /** Shares compute connections (session or transaction pooling). */
  pooled: boolean;
  compute: string;
  user: string;
  /** Whether the compute says the session's account may kill other users' threads; false when the proxy cannot ask. */
  mayKillOthers(): Promise<boolean>;
}

export interface KillDeps {
  /** This proxy's instance number. */
  instance: number;
  local(id: number): KillTarget | undefined;
  /** Other proxies; null without Redis. */
  peers: KillPeers | null;
}

const PASS: KillAction = { kind: 'pass' };
const OK: KillAction = { kind: 'ok' };

export function decideKill(stmt: KillStatement, killer: Killer, deps: KillDeps): KillAction | Promise<KillAction> {
  if (stmt.kind !== 'thread') return killer.pooled ? refuse(stmt.kind) : PASS;
  const verb = `KILL ${stmt.hardness ? `${stmt.hardness} ` : ''}${stmt.scope === 'query' ? 'QUERY' : 'CONNECTION'}`;
  if (stmt.target === 'self') return killer.pooled ? self(stmt.scope, verb) : PASS;
  const id = Number(stmt.target);
  if (id === killer.id) return self(stmt.scope, verb);
  if (!isSessionId(id)) return killer.pooled ? unknownThread(stmt.target) : PASS;
  return killSession(id, stmt.target, stmt.scope, verb, killer, deps);
}

async function killSession(id: number, text: string, scope: KillScope, verb: string, killer: Killer, deps: KillDeps): Promise<KillAction> {
  const local = instanceOf(id) === deps.instance;
  const target = local ? locateHere(deps.local(id), killer.compute) : await (deps.peers?.locate(id, killer.compute) ?? null);
  if (!target || target.compute !== killer.compute) return unknownThread(text);
  if (target.thread !== null) return { kind: 'send', sql: `${verb} ${target.thread}` };
  if (target.user !== killer.user && !(await killer.mayKillOthers().catch(() => false))) return notOwner(text);
  if (scope === 'query') return OK;
  const ended = local ? endHere(deps.local(id)) : await (deps.peers?.end(id) ?? false);
  return ended ? OK : unknownThread(text);
}

/** A session of this proxy, aimed at if it runs on the killer's compute. */
function locateHere(t: KillTarget | undefined, compute: string): RemoteTarget | null {
  if (!t) return null;
  return { compute: t.compute, user: t.user, thread: t.compute === compute ? t.aim() : null };
}

function endHere(t: KillTarget | undefined): boolean {
  if (!t) return false;
  t.end();
  return true;
}

function self(scope: KillScope, verb: string): KillAction {
  return { kind: 'self', scope, sql: `${verb} CONNECTION_ID()` };
}

function error(error: ErrPacket): KillAction {
  return { kind: 'error', error };
}

/** The server's own answer to an id it does not know. */
export function unknownThread(id: string): KillAction {
  return error({ code: 1094, sqlState: 'HY000', message: `Unknown thread id: ${id}` });
}

/** The server's own answer to a KILL of another user's thread without the privilege. */
export function notOwner(id: string): KillAction {
  return error({ code: 1095, sqlState: 'HY000', message: `You are not owner of thread ${id}` });
}

/** ER_NOT_SUPPORTED_YET, saying what to do instead (a SIGNAL's text is at most 128 characters). */
function refuse(kind: 'query_id' | 'user' | 'expression'): KillAction {
  const message = {
    query_id: 'wake-proxy: KILL QUERY ID is not supported with pooled connections; use KILL QUERY <connection id>',
    user: 'wake-proxy: KILL USER is not supported with pooled connections; KILL each connection by its id',
    expression: 'wake-proxy: with pooled connections KILL takes a number or CONNECTION_ID(), not an expression',
  }[kind];
  return error({ code: 1235, sqlState: '42000', message });
}
