// The console's actions: KILL a session, DRAIN the proxy, RELOAD its TLS files.
// Each is logged once with who asked; none waits for its effect.
import type { Logger } from 'pino';
import type { ProxyServer } from '../server.js';
import { instanceOf, isSessionId } from '../kill/session-ids.js';
import { error, ok, type ConsoleReply } from './console-reply.js';

/** What the actions act on, and who asked (for the log). */
export interface ActionContext {
  proxy: ProxyServer;
  drainTimeoutMs: number;
  log: Logger;
  asker: { user: string; client: string };
}

/**
 * Ends session `id` of this proxy as if its client had vanished: a statement it left
 * running on its compute is stopped (KILL QUERY) before its connection goes anywhere,
 * as when any client leaves mid-statement. A session still in its handshake just closes.
 */
export function killSession(c: ActionContext, id: number): ConsoleReply {
  const { sessions } = c.proxy.view;
  const s = sessions.get(id);
  if (!s) {
    const elsewhere = isSessionId(id) && instanceOf(id) !== sessions.instance;
    const hint = elsewhere ? ` (issued by proxy instance ${instanceOf(id)}, not this one, ${sessions.instance}: ask that proxy's console)` : '';
    return error(1094, 'HY000', `Unknown thread id: ${id}${hint}`);
  }
  c.log.info({ ...c.asker, conn: id, project: s.project, sessionUser: s.user, state: s.state }, 'session killed from the admin console');
  s.killed = true;
  if (s.target) s.target.end();
  else s.socket.destroy();
  return ok('', 1);
}

/** Stop accepting and drain as on SIGTERM, without exiting: readiness turns false, sessions may finish. */
export function drain(c: ActionContext): ConsoleReply {
  const { proxy } = c;
  if (!proxy.ready) return ok('already draining');
  const sessions = proxy.sessions;
  c.log.info({ ...c.asker, sessions, timeoutMs: c.drainTimeoutMs }, 'drain asked from the admin console');
  void proxy.drain(c.drainTimeoutMs).then(({ closed }) => c.log.info({ closed }, 'drained; the proxy stays up until it is stopped'));
  return ok(`draining ${sessions} sessions for up to ${c.drainTimeoutMs} ms; no new clients, /readyz answers 503`);
}

/** Load the TLS certificate and key again; a bad pair leaves the current one in use. */
export function reload(c: ActionContext): ConsoleReply {
  const tls = c.proxy.view.cfg.tls;
  if (!tls) return error(1105, 'HY000', 'wake-proxy admin console: this proxy has no TLS certificate to reload (--tls-cert)');
  c.log.info({ ...c.asker, cert: tls.certFile }, 'TLS reload asked from the admin console');
  const failure = tls.tryReload();
  if (failure !== null) return error(1105, 'HY000', `TLS reload failed, the previous certificate stays in use: ${failure}`);
  return ok(`TLS certificate reloaded from ${tls.certFile}`);
}
