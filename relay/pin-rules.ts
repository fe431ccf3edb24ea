// Transaction pooling hands a client's next statement to whichever backend is free, so
// a statement that leaves state behind on its backend must keep ("pin") that backend to
// the client. The server says so itself for some state (SERVER_SESSION_STATE_CHANGED,
// when the client negotiated CLIENT_SESSION_TRACK), but not for all of it: checked
// against MariaDB 10.11, GET_LOCK, LOCK TABLES, `SELECT ... INTO @v` and `SELECT @v :=`
// change nothing in the status flags, and clients without session tracking (PyMySQL)
// get no flag at all. So the statement text is read too, conservatively: a false pin
// costs a little pooling, a missed one hands state to another client.
//
// Read as latin1 (see sql-lexer.ts).
import { executableMarker, isDigit, isWordChar, skipLine, skipQuoted } from './sql-lexer.js';

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
}

const AUTOCOMMIT_ONLY =
  /^\s*SET\s+(?:(?:SESSION|LOCAL)\s+|@@(?:SESSION\.|LOCAL\.)?)?AUTOCOMMIT\s*(?:=|:=)\s*(?:0|1|ON|OFF|TRUE|FALSE)\s*;?\s*$/i;

/** Words that pin wherever they appear outside strings and comments. */
const PIN_ANYWHERE: Record<string, PinReason> = {
  TEMPORARY: 'temporary_table',
  GET_LOCK: 'lock',
  LOCK: 'lock',
  SQL_CALC_FOUND_ROWS: 'found_rows',
};

/** Words that pin as the first word of a statement. */
const PIN_FIRST: Record<string, PinReason> = {
  SET: 'set_statement',
  USE: 'use_database',
  PREPARE: 'prepared_statement',
  EXECUTE: 'prepared_statement',
  DEALLOCATE: 'prepared_statement',
  HANDLER: 'handler',
  // A procedure may leave anything behind, and MariaDB flags every CALL as a session
  // state change anyway (it restores character_set_client on the way out).
  CALL: 'stored_procedure',
};

const LONGEST_KEYWORD = 'SQL_CALC_FOUND_ROWS'.length;

/** `sql` is a COM_QUERY's text (the payload after the command byte). */
export function judgeQuery(sql: Buffer): QueryVerdict {
  const text = sql.toString('latin1');
  if (AUTOCOMMIT_ONLY.test(text)) return { pin: null, autocommitOnly: true };
  return { pin: scan(text), autocommitOnly: false };
}

function scan(s: string): PinReason | null {
  const n = s.length;
  let statementStart = true;
  let i = 0;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (isWordChar(c)) {
      let j = i + 1;
      while (j < n && isWordChar(s.charCodeAt(j))) j++;
      if (j - i <= LONGEST_KEYWORD) {
        const word = s.slice(i, j).toUpperCase();
        const reason = PIN_ANYWHERE[word] ?? (statementStart ? PIN_FIRST[word] : undefined);
        if (reason) return reason;
      }
      statementStart = false;
      i = j;
      continue;
    }
    switch (c) {
      case 0x27: // '
      case 0x22: // "
      case 0x60: // `
        i = skipQuoted(s, i, c);
        continue;
      case 0x40: // @
        if (s.charCodeAt(i + 1) === 0x40) {
          i += 2; // @@system_variable: reading one leaves nothing behind
          continue;
        }
        return 'user_variable';
      case 0x3b: // ;
        statementStart = true;
        break;
      case 0x23: // # comment
        i = skipLine(s, i);
        continue;
      case 0x2d: // -- comment (needs a space or control character after it)
        if (s.charCodeAt(i + 1) === 0x2d && (i + 2 >= n || s.charCodeAt(i + 2) <= 0x20)) {
          i = skipLine(s, i);
          continue;
        }
        break;
      case 0x2f: // /* comment */, but /*! and /*M! hold statement text that runs
        if (s.charCodeAt(i + 1) === 0x2a) {
          const bang = executableMarker(s, i);
          if (bang > 0) {
            i += bang;
            while (i < n && isDigit(s.charCodeAt(i))) i++; // version number
            continue;
          }
          const end = s.indexOf('*/', i + 2);
          i = end < 0 ? n : end + 2;
          continue;
        }
        break;
    }
    i++;
  }
  return null;
}
