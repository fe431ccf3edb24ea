// Transaction pooling: what the pin rules say of a client's statement (pin-rules.ts),
// read by everything that acts on it: the pin judge (pin-judge.ts), the settings the
// trackers report (tracked-session.ts), a prepared statement's record of its text
// (client-statements.ts) and the values of the previous statement put back or refused
// (previous-statement.ts). Kept apart from the rules and their scan (query-scan.ts)
// so those readers import only the words, not the scanner.

/** Why a session keeps its compute connection (also the `reason` its pin is counted under). */
export type PinReason =
  | 'user_variable'
  | 'set_statement'
  | 'use_database'
  | 'temporary_table'
  | 'prepared_statement'
  | 'lock'
  | 'found_rows'
  | 'handler'
  | 'stored_procedure'
  | 'sequence'
  | 'stored_code'
  | 'stored_code_unknown'
  | 'session_state'
  | 'command';

export interface QueryVerdict {
  /** Run on a pinned backend from now on; null when the statement leaves no state by its text. */
  pin: PinReason | null;
  /**
   * The statement only sets autocommit. The server flags it as a state change, but
   * autocommit is visible in every status, so the status flags judge it instead:
   * `SET autocommit=1` (Django, PyMySQL's autocommit=True) does not pin.
   */
  autocommitOnly: boolean;
  /** `SET STATEMENT ... FOR`: the variables it sets (lower case), which hold for that statement only. */
  temporary?: string[];
  /** The text has a SET: its text in lower case (a variable it names is its own doing, not a restore). */
  setsVariables?: string;
  /** `SET NAMES ... COLLATE c`: the collation the tracker does not report. */
  collation?: string;
  /** What the text reads or changes of the previous statement's values (READS_INSERT_ID, ...); absent: none. */
  previous?: number;
}

// What a statement does with the values its session's previous statement left
// (previous-statement.ts). Found by the same scan, by whole words outside strings and
// comments: a column named `identity` costs a needless SET, never a wrong answer.
/** Reads LAST_INSERT_ID() (also `@@last_insert_id`, `@@identity`). */
export const READS_INSERT_ID = 1;
/** May change it: INSERT, REPLACE, LOAD DATA, CREATE ... SELECT as a statement, or LAST_INSERT_ID(expr). */
export const CHANGES_INSERT_ID = 2;
/**
 * Reads what the previous statement left that no SET can give back: ROW_COUNT(),
 * FOUND_ROWS(), its warnings and errors (SHOW WARNINGS, SHOW ERRORS, SHOW COUNT(*)
 * WARNINGS, @@warning_count, @@error_count, GET DIAGNOSTICS), whose texts may hold another
 * client's data (a duplicate key's value).
 */
export const READS_ROW_COUNTS = 4;
/** LOAD as a statement: its reply may ask for the client's file, so nothing of the proxy's may follow it before its end. */
export const MAY_READ_FILE = 8;
