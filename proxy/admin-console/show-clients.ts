// SHOW CLIENTS: one row per client session of this proxy, read from the session
// registry and each session's own fields when asked; nothing is kept for it.
import type { TLSSocket } from 'node:tls';
import type { SessionContext } from '../session-context.js';
import { SessionKill } from '../kill/session-kill.js';
import { rows, seconds, type ConsoleColumn, type ConsoleReply } from './console-reply.js';

export const CLIENT_COLUMNS: readonly ConsoleColumn[] = [
  /** The connection id the client was given (greeting, CONNECTION_ID(), KILL). */
  { name: 'id', kind: 'int' },
  { name: 'project', kind: 'text' },
  /** The user the compute knows it by (without the project). */
  { name: 'user', kind: 'text' },
  /** Address and port it connected from. */
  { name: 'client', kind: 'text' },
  { name: 'tls', kind: 'int' },
  /** pipe, session or transaction, once it relays (a passthrough client is pipe in every mode). */
  { name: 'mode', kind: 'text' },
  { name: 'state', kind: 'text' },
  { name: 'pin_reason', kind: 'text' },
  /** Seconds in its state. */
  { name: 'state_s', kind: 'seconds' },
  /** Seconds since it connected. */
  { name: 'age_s', kind: 'seconds' },
  /** The compute it relays to (transaction pooling: the one it last borrowed from). */
  { name: 'compute', kind: 'text' },
  { name: 'bytes_in', kind: 'int' },
  { name: 'bytes_out', kind: 'int' },
];

export function showClients(sessions: Iterable<SessionContext>, now = performance.now()): ConsoleReply {
  const data = [...sessions]
    .sort((a, b) => a.id - b.id)
    .map((s) => {
      const target = s.target;
      return [
        s.id,
        s.project ?? null,
        s.user ?? null,
        `${s.clientAddress}:${s.socket.remotePort ?? 0}`,
        (s.socket as Partial<TLSSocket>).encrypted === true ? 1 : 0,
        target instanceof SessionKill ? (target.pooled ? s.cfg.pooling.mode : 'pipe') : null,
        s.state,
        s.pin,
        seconds(now - s.stateSince),
        seconds(now - s.startedAt),
        target?.compute ?? null,
        s.socket.bytesRead,
        s.socket.bytesWritten,
      ];
    });
  return rows(CLIENT_COLUMNS, data);
}
