// The connection ids clients see: the greeting's, the one a bare SELECT
// CONNECTION_ID() answers in the pooled modes, the one KILL takes. Issued by the
// proxies, not the computes, because a pooled session has no compute connection of
// its own to borrow an id from, and because a compute's ids restart at 1 with every
// start: a stale id must not name another client's statement.
//
// An id is 2^30 + instance * 2^20 + counter, so every id lies in [2^30, 2^31):
// - drivers that keep the id in a signed 32-bit int (Java) never see it negative;
// - a compute's own thread ids start at 1 with every start and practically never
//   reach 2^30, so in a KILL an id >= 2^30 is a session id, anything lower a compute
//   thread id;
// - the instance (10 bits) says which proxy issued it: each proxy claims a number
//   of its own in Redis (instance-claim.ts), so a KILL that reaches another proxy
//   can be sent to the one that knows the session;
// - the counter (20 bits) wraps, skipping ids still in use, so an id comes back only
//   after a million sessions of the same proxy.

export const SESSION_ID_BASE = 2 ** 30;
export const INSTANCE_BITS = 10;
export const COUNTER_BITS = 20;
/** Instance numbers run from 0 to this. */
export const MAX_INSTANCE = 2 ** INSTANCE_BITS - 1;
const COUNTER_SPACE = 2 ** COUNTER_BITS;

/** Whether `id` (from a KILL, say) is in the proxies' range. */
export function isSessionId(id: number): boolean {
  return Number.isInteger(id) && id >= SESSION_ID_BASE && id < 2 * SESSION_ID_BASE;
}

/** The instance number of the proxy that issued a session id. */
export function instanceOf(id: number): number {
  return Math.floor((id - SESSION_ID_BASE) / COUNTER_SPACE);
}

export class SessionIds {
  private next = 0;

  constructor(readonly instance: number) {
    if (!Number.isInteger(instance) || instance < 0 || instance > MAX_INSTANCE) {
      throw new RangeError(`instance number ${instance} is not in 0..${MAX_INSTANCE}`);
    }
  }

  /** A fresh id, not one `inUse` says is taken. Throws if all a million are. */
  issue(inUse: (id: number) => boolean): number {
    const base = SESSION_ID_BASE + this.instance * COUNTER_SPACE;
    for (let tries = 0; tries < COUNTER_SPACE; tries++) {
      const id = base + this.next;
      this.next = (this.next + 1) % COUNTER_SPACE;
      if (!inUse(id)) return id;
    }
    throw new Error(`all ${COUNTER_SPACE} session ids of instance ${this.instance} are in use`);
  }
}
