// Server -> Client: the OK that ends a verified login, which the proxy writes itself (the
// compute's own login OK went to the proxy). Built once and cached: every client of a
// pooled connection with the same capabilities gets the same bytes, so a login (one per
// client, and many per second under churn) writes a cached Buffer and builds nothing.
import {
  CLIENT_SESSION_TRACK,
  SERVER_SESSION_STATE_CHANGED,
  SERVER_STATUS_AUTOCOMMIT,
  writeOkPacket,
  type OkPacket,
} from '../protocol/index.js';
import type { PooledBackend } from '../pool/pooled-backend.js';

/**
 * The OK that ends a verified login. To a client that negotiated CLIENT_SESSION_TRACK it
 * repeats the session-state block of the pooled connection's own login OK, as a direct
 * login would get it: a driver reads its connection charset there and otherwise sets it
 * with a statement (the npm mariadb connector's `SET NAMES utf8mb4`, which changes the
 * collation), so reporting what the compute does not would give the client another
 * session than a direct login.
 */
export function loginOk(attached: { kind: string; pooled?: PooledBackend }, negotiated: number): Buffer {
  const state = negotiated & CLIENT_SESSION_TRACK ? (attached.pooled?.loginState ?? null) : null;
  // The same few bytes for every client of a connection: made once per connection (its login state) and capability set.
  const made = loginOks.get(state ?? NO_REPORT);
  let ok = made?.get(negotiated);
  if (ok) return ok;
  const packet: OkPacket = { affectedRows: 0, lastInsertId: 0, statusFlags: SERVER_STATUS_AUTOCOMMIT, warnings: 0, info: '' };
  if (state) {
    packet.statusFlags |= SERVER_SESSION_STATE_CHANGED;
    packet.sessionState = state;
  }
  ok = writeOkPacket(packet, negotiated);
  if (made) made.set(negotiated, ok);
  else loginOks.set(state ?? NO_REPORT, new Map([[negotiated, ok]]));
  return ok;
}

/** Login OKs by the login state they repeat (NO_REPORT: none) and the client's capabilities; written, never changed. */
const loginOks = new WeakMap<object, Map<number, Buffer>>();
const NO_REPORT = {};
