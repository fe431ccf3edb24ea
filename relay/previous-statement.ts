// Transaction pooling: the values a session's previous statement leaves, which the next
// one may read: LAST_INSERT_ID(), ROW_COUNT(), FOUND_ROWS(). On a direct connection they
// are the client's own; a pooled connection holds those of whoever ran on it last.
//
// LAST_INSERT_ID() is made the client's again before a statement that reads or may
// change it (pin-rules.ts says which, from the scan it already makes), by a SET written
// in the same write, when the connection's value differs. The value is not taken from OK
// packets: their last_insert_id field is the explicit value of an INSERT that generated
// none, the existing row's id of an ON DUPLICATE KEY UPDATE, 0 after DO LAST_INSERT_ID(x)
// or a compound statement that inserted, and an INSERT that fails may still change it
// (a multi-row one, after its first rows: checked on 10.11.19). So after a statement that
// may change it, only the connection knows it, and the proxy reads it off the connection
// before giving the connection back (`SET last_insert_id=LAST_INSERT_ID()`, whose OK
// reports it: tracked-session.ts). A statement that only reads costs a SET at most.
//
// ROW_COUNT() and FOUND_ROWS() cannot be set. A statement that reads them is let through
// only when the connection it goes to last ran this client's previous statement (held
// since, in a transaction or pinned, with nothing of the proxy's in between); otherwise
// it is refused with an error rather than answered with another client's count.
import { framePacket, writeComQuery, type ErrPacket, type ReplyTracker } from '../protocol/index.js';
import { LAST_INSERT_ID_READ, lastInsertIdSql } from '../backend/session-settings.js';
import type { PooledBackend } from '../pool/pooled-backend.js';
import { CHANGES_INSERT_ID, READS_INSERT_ID, READS_ROW_COUNTS } from './pin-rules.js';
import type { TrackedSession } from './tracked-session.js';

export const ROW_COUNTS_ELSEWHERE: ErrPacket = {
  code: 1105,
  sqlState: 'HY000',
  message:
    'wake-proxy: ROW_COUNT() and FOUND_ROWS() read the previous statement, which ran on another compute connection ' +
    '(transaction pooling); read them in the same transaction or multi-statement as that statement',
};

const INSERT_ID = READS_INSERT_ID | CHANGES_INSERT_ID;

export class PreviousStatement {
  /** The held connection's last command was this client's previous statement, with nothing of the proxy's since. */
  private continuous = false;

  /** A connection was borrowed, or the proxy sent something of its own on it. */
  interrupted(): void {
    this.continuous = false;
  }

  /**
   * A client statement that does `previous` (pin-rules.ts bits) goes to `b` next, its
   * reply followed by `tracker`: the error that must answer it instead, or null (and
   * the client's LAST_INSERT_ID() is written ahead of it when it needs it).
   */
  before(previous: number, client: TrackedSession, b: PooledBackend, tracker: ReplyTracker): ErrPacket | null {
    const continuous = this.continuous;
    this.continuous = true;
    if (previous === 0) return null;
    const mine = client.settings;
    const theirs = b.settings!;
    const set = (previous & INSERT_ID) !== 0 && mine.lastInsertId !== null && mine.lastInsertId !== theirs.lastInsertId;
    if ((previous & READS_ROW_COUNTS) !== 0 && (!continuous || set)) return ROW_COUNTS_ELSEWHERE;
    if (set) {
      tracker.expect(true);
      b.socket.write(framePacket(writeComQuery(lastInsertIdSql(mine.lastInsertId!)), 0));
      theirs.lastInsertId = mine.lastInsertId;
    }
    if ((previous & CHANGES_INSERT_ID) !== 0) {
      // Known to the connection only, until read back before it goes: a read already on its
      // way (the client's statement came before the connection went) reads too early.
      client.readingInsertId = false;
      mine.lastInsertId = null;
      theirs.lastInsertId = null;
    }
    return null;
  }

  /**
   * `b` is about to go back to the pool: true when the client's LAST_INSERT_ID() is known
   * only there, and the read was sent (the connection goes once its reply is in).
   */
  readBeforeRelease(client: TrackedSession, b: PooledBackend, tracker: ReplyTracker): boolean {
    if (client.settings.lastInsertId !== null) return false;
    this.continuous = false;
    client.readingInsertId = true;
    tracker.expect(true);
    b.socket.write(framePacket(writeComQuery(LAST_INSERT_ID_READ), 0));
    return true;
  }

  /**
   * The session is pinned by a command whose replies the proxy stops following: from now
   * on the connection is the client's alone, so its LAST_INSERT_ID() goes there once.
   */
  settle(client: TrackedSession, b: PooledBackend, tracker: ReplyTracker): void {
    const mine = client.settings;
    const theirs = b.settings!;
    if (mine.lastInsertId !== null && mine.lastInsertId !== theirs.lastInsertId) {
      tracker.expect(true);
      b.socket.write(framePacket(writeComQuery(lastInsertIdSql(mine.lastInsertId)), 0));
    }
    this.continuous = false;
    mine.lastInsertId = null;
    theirs.lastInsertId = null;
  }
}

