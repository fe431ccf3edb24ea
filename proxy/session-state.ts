// What a session is doing, as the admin console's SHOW CLIENTS reports it. Kept as
// plain fields of the session, written at its transitions (a wake starts, a pooled
// connection is borrowed or given back, the session pins): no timer, no closure
// and nothing on the relays' per-packet path, so thousands of held clients pay a
// few fields each.
import type { PinReason } from '../relay/query-verdict.js';

export type SessionState =
  /** Greeting to OK: TLS, credentials, connecting or logging in to the compute. */
  | 'handshake'
  /** Held while the project's compute is found or woken (at login, or for a transaction-pooled statement). */
  | 'waiting_for_wake'
  /** Pooled: borrowing a compute connection (one logging in, or queued behind --pool-max-per-compute). */
  | 'waiting_for_connection'
  /** Bytes flow (pipe, session pooling; transaction pooling: a statement or transaction holds a connection). */
  | 'relaying'
  /** Transaction pooling: connected, holding no compute connection (its compute may sleep). */
  | 'idle'
  /** Transaction pooling: pinned to its compute connection for good; `pin` says why. */
  | 'pinned';

/** The fields a session keeps for it (SessionContext has them). */
export interface StateFields {
  state: SessionState;
  /** performance.now() when `state` began. */
  stateSince: number;
  /** Why a transaction-pooled session pinned its connection; null until it does. */
  pin: PinReason | null;
}

export function enterState(s: Pick<StateFields, 'state' | 'stateSince'>, state: SessionState): void {
  enterStateAt(s, state, performance.now());
}

/** As enterState, at a time the caller already read: a transaction-pooled statement borrows through the wake step, and a clock read costs 0.1-0.2 µs on a busy machine. */
export function enterStateAt(s: Pick<StateFields, 'state' | 'stateSince'>, state: SessionState, at: number): void {
  s.state = state;
  s.stateSince = at;
}

/** The session pinned its connection: it stays in 'pinned' for the rest of its life. */
export function enterPinned(s: StateFields, reason: PinReason): void {
  s.pin = reason;
  enterState(s, 'pinned');
}

/** A transaction-pooled session took (`holding`) or gave back its connection; a pinned one stays pinned. */
export function enterHolding(s: StateFields, holding: boolean): void {
  if (s.pin === null) enterState(s, holding ? 'relaying' : 'idle');
}
