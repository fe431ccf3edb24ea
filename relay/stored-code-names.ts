// Transaction pooling: the names of one compute's stored code that can leave session
// state the trackers do not report (a stored function, trigger or view that takes a
// named lock or advances a sequence; the control plane lists them, see
// accounts/stored-code.ts). A statement that mentions one pins its session, as
// GET_LOCK in its own text would (pin-rules.ts). One object per compute, shared by
// every session of it in this proxy, so what one session's DDL teaches it
// (stored-code-ddl.ts) holds for the next statement of any of them.
//
// Unknown (the compute's stored code could not be listed, or not yet) is not "none":
// every session then pins at its first statement.
//
// Statement text is read as latin1 (sql-lexer.ts), names come as JS strings: a word
// beyond ASCII is decoded as UTF-8 to compare, and one that is no UTF-8 (a client in
// another character set) matches whenever some name is beyond ASCII.

/** What a read says: the compute's names (lower case), or null when they could not be read. */
export interface StoredCodeRead {
  readAt: string;
  names: readonly string[] | null;
  /** Procedures that pin what CALLs them (a client's own CALL pins anyway): for judging DDL. */
  procedures?: readonly string[];
  reason?: string;
}

/** How long a name learned from DDL here outlives reads that do not list it (reads made by another clock). */
const LEARNED_HOLD_MS = 60_000;

export class StoredCodeNames {
  /** False: unknown, every session pins at its first statement. */
  known = false;
  /** Why unknown, for the pin's log line. */
  reason = 'not read yet';
  /** The names, or null when there are none: the judge then does nothing more per word. */
  names: Set<string> | null = null;
  /** Bumped at every change of `names` or `known`: what was judged before is judged again (prepared statements). */
  generation = 0;
  /** The read the names come from, so an older one never replaces it. */
  private readAt = -Infinity;
  private read: readonly string[] = [];
  private last: StoredCodeRead | null = null;
  /** Names learned from DDL seen here, with when (this proxy's clock), until a read lists them. */
  private readonly learned = new Map<string, number>();
  /** The same for procedures, which only DDL calling them is judged by. */
  private readProcedures: readonly string[] = [];
  private readonly learnedProcedures = new Map<string, number>();
  // A cheap first test of a word: its length (in latin1 characters, as statements are read).
  private lengths = 0;
  private longest = 0;
  /** Some name is beyond ASCII. */
  private wide = false;

  /** A read's answer; an older read than the one in use changes nothing. Returns whether the set changed. */
  update(read: StoredCodeRead): boolean {
    // The same answer again (a cached role answer, every login's case): nothing to do, not even a date to parse.
    if (read === this.last) return false;
    const at = Date.parse(read.readAt);
    if (!(at >= this.readAt)) return false;
    this.last = read;
    this.readAt = at;
    const knownBefore = this.known;
    if (read.names === null) {
      this.known = false;
      this.reason = read.reason ?? 'not said';
      this.read = [];
      this.readProcedures = [];
    } else {
      this.known = true;
      this.read = read.names;
      this.readProcedures = read.procedures ?? [];
      forgetListed(this.learned, read.names, at);
      forgetListed(this.learnedProcedures, this.readProcedures, at);
    }
    return this.rebuild() || knownBefore !== this.known;
  }

  /** A name DDL through this proxy made hazardous (lower case); a procedure's pins only what CALLs it. */
  learn(name: string, procedure = false): void {
    if (procedure) {
      this.learnedProcedures.set(name, Date.now());
      return;
    }
    if (this.names?.has(name)) return;
    this.learned.set(name, Date.now());
    this.rebuild();
  }

  /** Whether CALLing procedure `name` (lower case) leaves untracked state. */
  callsHazard(name: string): boolean {
    return this.readProcedures.includes(name) || this.learnedProcedures.has(name);
  }

  /** Whether a word of `n` latin1 characters may be one of the names: the test before a word is cut out of its statement. */
  mayMatch(n: number): boolean {
    return n <= this.longest && (n > 31 || (this.lengths & (1 << n)) !== 0);
  }

  /** Whether `word` (latin1 text of a word or a quoted identifier, as the statement holds it) is one of the names. */
  matches(word: string): boolean {
    const names = this.names;
    const n = word.length;
    if (names === null || !this.mayMatch(n)) return false;
    let ascii = true;
    for (let i = 0; i < n && ascii; i++) ascii = word.charCodeAt(i) < 0x80;
    if (ascii) return names.has(word.toLowerCase());
    if (!this.wide) return false;
    const text = Buffer.from(word, 'latin1').toString('utf8');
    return text.includes('\uFFFD') || names.has(text.toLowerCase());
  }

  /** How a name the statement text holds (latin1) reads as a JS string. */
  static fromStatement(latin1: string): string {
    return Buffer.from(latin1, 'latin1').toString('utf8').toLowerCase();
  }

  private rebuild(): boolean {
    const all = new Set(this.read);
    for (const name of this.learned.keys()) all.add(name);
    const before = this.names;
    if (before !== null && before.size === all.size && [...all].every((n) => before.has(n))) return false;
    if (before === null && all.size === 0) return false;
    this.names = all.size > 0 ? all : null;
    this.lengths = 0;
    this.longest = 0;
    this.wide = false;
    for (const name of all) {
      const bytes = Buffer.byteLength(name);
      this.longest = Math.max(this.longest, bytes);
      if (bytes !== name.length) this.wide = true;
      else if (bytes <= 31) this.lengths |= 1 << bytes;
    }
    // A name beyond ASCII has no latin1 length to test by: words then go by `longest` alone.
    if (this.wide) this.lengths = -1;
    this.generation++;
    return true;
  }
}

/** Names learned here that a read lists now (it covers them), or that a read made well after them does not. */
function forgetListed(learned: Map<string, number>, listed: readonly string[], readAt: number): void {
  for (const [name, when] of learned) if (listed.includes(name) || readAt > when + LEARNED_HOLD_MS) learned.delete(name);
}
