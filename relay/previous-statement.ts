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
// (`SET last_insert_id=LAST_INSERT_ID()`, whose OK reports it: tracked-session.ts) before
// giving the connection back: written right behind an autocommit statement, in the same
// write (the connection goes back after it anyway, and a round trip more would hold it
// longer), else when the transaction ends. A statement that only reads costs a SET at most.
//
// ROW_COUNT(), FOUND_ROWS() and the previous statement's warnings cannot be set. A statement that reads them is let through
// only when the connection it goes to last ran this client's previous statement (held
// since, in a transaction or pinned, with nothing of the proxy's in between); otherwise
// it is refused with an error rather than answered with another client's count.
import { framePacket, writeComQuery, type ErrPacket, type ReplyTracker } from '../protocol/index.js';
import { LAST_INSERT_ID_READ, lastInsertIdSql } from '../backend/session-settings.js';
import type { PooledBackend } from '../pool/pooled-backend.js';
import { CHANGES_INSERT_ID, MAY_READ_FILE, READS_INSERT_ID, READS_ROW_COUNTS } from './query-verdict.js';
import type { TrackedSession } from './tracked-session.js';

export const ROW_COUNTS_ELSEWHERE: ErrPacket = {
  code: 1105,
  sqlState: 'HY000',
  message:
    'wake-proxy: ROW_COUNT(), FOUND_ROWS() and the previous statement\'s warnings (SHOW WARNINGS, GET DIAGNOSTICS) read the previous statement, ' +
    'which ran on another compute connection (transaction pooling); read them in the same transaction or multi-statement as that statement',
};

const INSERT_ID = READS_INSERT_ID | CHANGES_INSERT_ID;

export class PreviousStatement {
  /** The held connection's last command was this client's previous statement, with nothing of the proxy's since. */
  private continuous = false;
  /** The statement going now may change LAST_INSERT_ID() outside a transaction: read it right behind. */
  private readAfter = false;

  /** The proxy sent something of its own on the held connection. */
  interrupted(): void {
    this.continuous = false;
  }

  /** `client` borrowed a connection: nothing of the last one's is still to come. */
  leased(client: TrackedSession | null): void {
    this.continuous = false;
    if (client) client.insertIdReportsToSkip = 0;
  }

  /**
   * A client statement that does `previous` (query-verdict.ts bits) goes to `b` next, its
   * reply followed by `tracker`: the error that must answer it instead, or null (and
   * the client's LAST_INSERT_ID() is written ahead of it when it needs it). `autocommit`:
   * no transaction is open, so the connection goes back after the statement.
   */
  before(previous: number, client: TrackedSession, b: PooledBackend, tracker: ReplyTracker, autocommit: boolean): ErrPacket | null {
    const continuous = this.continuous;
    this.continuous = true;
    if (previous === 0) return null;
    const mine = client.settings;
    const theirs = b.settings!;
    const set = (previous & INSERT_ID) !== 0 && mine.lastInsertId !== null && mine.lastInsertId !== theirs.lastInsertId;
    if ((previous & READS_ROW_COUNTS) !== 0 && (!continuous || set)) return ROW_COUNTS_ELSEWHERE;
    const readAfter = autocommit && (previous & CHANGES_INSERT_ID) !== 0 && (previous & MAY_READ_FILE) === 0;
    // The SET ahead, the statement and the read behind leave in one write, not three.
    if (set || readAfter) corkForThisTick(b);
    if (set) {
      this.write(client, b, tracker, lastInsertIdSql(mine.lastInsertId!));
      theirs.lastInsertId = mine.lastInsertId;
    }
    if ((previous & CHANGES_INSERT_ID) !== 0) {
      // Known to the connection only, until read back before it goes: a read already on its
      // way (the client's statement came before the connection went) reads too early.
      if (client.readingInsertId) {
        client.readingInsertId = false;
        client.insertIdReportsToSkip++;
      }
      mine.lastInsertId = null;
      theirs.lastInsertId = null;
      // Not behind LOAD DATA LOCAL: the compute would take the read for the file's first bytes.
      this.readAfter = readAfter;
    }
    return null;
  }

  /** The statement before() let through was written: the read behind it, if it wants one. */
  after(client: TrackedSession, b: PooledBackend, tracker: ReplyTracker): void {
    if (!this.readAfter) return;
    this.readAfter = false;
    this.read(client, b, tracker);
  }

  /**
   * `b` is about to go back to the pool, nothing pending: 'read' when the client's
   * LAST_INSERT_ID() is known only there and the read was sent (the connection goes once
   * its reply is in); 'lost' when a read came back without it (the client turned the
   * trackers off): only that connection knows it now, so the session must keep it.
   */
  beforeRelease(client: TrackedSession, b: PooledBackend, tracker: ReplyTracker): 'go' | 'read' | 'lost' {
    if (client.readingInsertId) {
      client.readingInsertId = false;
      return 'lost';
    }
    if (client.settings.lastInsertId !== null) return 'go';
    this.read(client, b, tracker);
    return 'read';
  }

  private read(client: TrackedSession, b: PooledBackend, tracker: ReplyTracker): void {
    b.socket.write(framePacket(writeComQuery(LAST_INSERT_ID_READ), 0));
    tracker.expect(true);
    this.continuous = false;
    client.readingInsertId = true;
  }

  /** A SET of the proxy's: its reply is swallowed, and its report says nothing of the client's value. */
  private write(client: TrackedSession, b: PooledBackend, tracker: ReplyTracker, sql: string): void {
    b.socket.write(framePacket(writeComQuery(sql), 0));
    tracker.expect(true);
    client.insertIdReportsToSkip++;
  }

  /**
   * The session is pinned by a command whose replies the proxy stops following: from now
   * on the connection is the client's alone, so its LAST_INSERT_ID() goes there once.
   */
  settle(client: TrackedSession, b: PooledBackend, tracker: ReplyTracker): void {
    const mine = client.settings;
    const theirs = b.settings!;
    if (mine.lastInsertId !== null && mine.lastInsertId !== theirs.lastInsertId) this.write(client, b, tracker, lastInsertIdSql(mine.lastInsertId));
    this.continuous = false;
    mine.lastInsertId = null;
    theirs.lastInsertId = null;
  }
}

/** Holds `b`'s writes until the current tick ends, then sends them as one (Node's cork). */
function corkForThisTick(b: PooledBackend): void {
  const socket = b.socket;
  socket.cork();
  process.nextTick(uncork, socket);
}

function uncork(socket: PooledBackend['socket']): void {
  socket.uncork();
}
