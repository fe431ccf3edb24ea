// One transaction-pooled client's prepared statements, by the ids the proxy gave it.
// The client's statement is its text (and what it was told about it: parameter and
// column counts); where it is prepared is the connections'
// business (connection-statements.ts). Ids count up from 1 per client, as a server's
// never repeat while the statement lives.
//
// Long data sent for a statement, and a cursor open on it, live on one compute
// connection: while any statement has either, the session holds that connection.
import type { ConnectionStatement } from './connection-statements.js';
import type { QueryVerdict } from './query-verdict.js';

export interface ClientStatement {
  readonly id: number;
  /** The statement's text as the client sent it. */
  readonly sql: Buffer;
  /** What connections cache it by: the text, and what its meaning depends on (connection-statements.ts). */
  readonly key: string;
  /** The session's parse context when it was prepared (backend/session-settings.ts parseContext). */
  readonly context: string;
  readonly params: number;
  readonly columns: number;
  /** What its text leaves behind when it runs, as pin-rules.ts judges it. */
  readonly verdict: QueryVerdict;
  /** The generation of the compute's stored-code names its text was last judged by (stored-code-names.ts). */
  codeGeneration: number;
  /** The parameter types of the last execute that carried some (a client may send them once). */
  types: Buffer | null;
  /** Long data sent and not yet consumed by an execute. */
  longData: boolean;
  /** A cursor is open on it. */
  cursor: boolean;
  /** Where its long data or cursor is, while it has either. */
  heldOn: ConnectionStatement | null;
  /** The connection statement its last command went to. */
  sentTo: ConnectionStatement | null;
}

export class ClientStatements {
  private readonly byId = new Map<number, ClientStatement>();
  private nextId = 1;
  /** What 0xffffffff names: the statement prepared last, or null after a failed prepare. */
  last: ClientStatement | null = null;
  /** Statements with long data or an open cursor. */
  private holding = 0;

  get size(): number {
    return this.byId.size;
  }

  /** Some statement's long data or cursor is on the held connection: keep it. */
  get busy(): boolean {
    return this.holding > 0;
  }

  add(s: Omit<ClientStatement, 'id' | 'types' | 'longData' | 'cursor' | 'heldOn' | 'sentTo'>): ClientStatement {
    // Every field named, in one order: all statements then share one shape, and every
    // execute reads them through one (monomorphic) property access. A spread of `s` gave
    // each statement a shape of its own.
    const statement: ClientStatement = {
      id: this.nextId++,
      sql: s.sql,
      key: s.key,
      context: s.context,
      params: s.params,
      columns: s.columns,
      verdict: s.verdict,
      codeGeneration: s.codeGeneration,
      types: null,
      longData: false,
      cursor: false,
      heldOn: null,
      sentTo: null,
    };
    if (this.nextId > 0xfffffffe) this.nextId = 1; // 0xffffffff means "the last one"
    this.byId.set(statement.id, statement);
    this.last = statement;
    return statement;
  }

  get(id: number): ClientStatement | undefined {
    return this.byId.get(id);
  }

  close(s: ClientStatement): void {
    this.setLongData(s, false, null);
    this.setCursor(s, false, null);
    this.byId.delete(s.id);
    if (this.last === s) this.last = null;
  }

  /** The server dropped every statement (a reset, a change of user). */
  clear(): void {
    for (const s of this.byId.values()) if (s.heldOn) s.heldOn.holders--;
    this.byId.clear();
    this.last = null;
    this.holding = 0;
  }

  setLongData(s: ClientStatement, on: boolean, where: ConnectionStatement | null): void {
    const before = s.longData || s.cursor;
    s.longData = on;
    this.settle(s, before, where);
  }

  setCursor(s: ClientStatement, on: boolean, where: ConnectionStatement | null): void {
    const before = s.longData || s.cursor;
    s.cursor = on;
    this.settle(s, before, where);
  }

  private settle(s: ClientStatement, before: boolean, where: ConnectionStatement | null): void {
    const after = s.longData || s.cursor;
    if (before === after) return;
    this.holding += after ? 1 : -1;
    if (after) {
      s.heldOn = where;
      if (where) where.holders++;
    } else {
      if (s.heldOn) s.heldOn.holders--;
      s.heldOn = null;
    }
  }
}
