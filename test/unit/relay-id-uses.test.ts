// Pooled sessions: which statements would see or act on a compute connection's id (and
// are refused), found by a byte test first and the lexer after it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EXPLAIN_FOR_REFUSED, HIDDEN_KILL_REFUSED, ID_REFUSED, PSEUDO_THREAD_ID_REFUSED, UNREADABLE_REFUSED, idUseIn, mentionsIds, prepareRefusal } from '../../relay/id-uses.js';

const bytes = (s: string) => Buffer.from(`\x03${s}`, 'latin1');

test('the byte test: true for what may name an id, false for the statements an application sends', () => {
  for (const s of [
    'SELECT CONNECTION_ID()',
    'select Connection_Id ()',
    'SELECT @@pseudo_thread_id',
    'SELECT 1; KILL 5',
    'KILL 5',
    "EXECUTE IMMEDIATE 'kIlL 5'",
    'SHOW EXPLAIN FOR 5',
    'ANALYZE FORMAT=JSON FOR CONNECTION 5',
    'x;kill',
    'SELECT 1; SHOW EXPLAIN FOR 5',
    '  /* c */ kill 5',
    '/*!KILL 5*/',
    'desc for connection 5',
    "PREPARE s FROM 'KILL 5'",
    'CREATE PROCEDURE k() KILL 5',
    'alter event e do kill 5',
  ]) {
    assert.equal(mentionsIds(bytes(s), 1), true, s);
  }
  for (const s of [
    'SELECT c FROM sbtest1 WHERE id=5012',
    'SELECT o.id, c.customer_id FROM orders o JOIN customers c ON c.id = o.customer_id',
    "UPDATE skills SET killer_app = 1, skill = 'x' WHERE skill_id = 3",
    'INSERT INTO t (thread_name, connection_name) VALUES (1, 2)',
    'SELECT explained, analyzed FROM notes',
    'DELETE FROM t WHERE a = 1;  ',
    'COMMIT',
    'CALL p(1)',
    'AND',
    '\n  -- the report\n  SELECT a FROM t',
    "INSERT INTO t VALUES (1, 'kill -9'), (2, 'explain')",
    '',
  ]) {
    assert.equal(mentionsIds(bytes(s), 1), false, s);
  }
  // A true is only a reason to lex.
  assert.equal(mentionsIds(bytes("SHOW COLUMNS FROM t; SELECT 'a;b'"), 1), true);
  assert.equal(idUseIn("SHOW COLUMNS FROM t; SELECT 'a;b'", false), null);
  // Only from `from` on: the command byte is not text.
  assert.equal(mentionsIds(Buffer.from('kill'), 1), false);
});

test('what is refused, and why', () => {
  const cases: Array<[string, unknown]> = [
    ['SELECT CONNECTION_ID(), 1', ID_REFUSED],
    ['SELECT CONNECTION_ID() + 0', ID_REFUSED],
    ['SELECT ID FROM information_schema.PROCESSLIST WHERE ID = CONNECTION_ID()', ID_REFUSED],
    ['INSERT INTO log VALUES (connection_id /* c */ ( ))', ID_REFUSED],
    ['/*!SELECT CONNECTION_ID() + 1 */', ID_REFUSED],
    ['SELECT @@pseudo_thread_id', PSEUDO_THREAD_ID_REFUSED],
    ['SELECT @@session.PSEUDO_THREAD_ID', PSEUDO_THREAD_ID_REFUSED],
    ['SET pseudo_thread_id = 5', PSEUDO_THREAD_ID_REFUSED],
    ['SELECT 1; KILL QUERY 5', HIDDEN_KILL_REFUSED],
    ['BEGIN NOT ATOMIC KILL 5; END', HIDDEN_KILL_REFUSED],
    ["EXECUTE IMMEDIATE 'KILL QUERY 5'", HIDDEN_KILL_REFUSED],
    ["PREPARE s FROM 'kill 5'", HIDDEN_KILL_REFUSED],
    ["PREPARE s FROM 'SELECT CONNECTION_ID() AS ''x'''", ID_REFUSED],
    ["EXECUTE IMMEDIATE 'SELECT \\'a\\', CONNECTION_ID()'", ID_REFUSED],
    ['SHOW EXPLAIN FOR 5', EXPLAIN_FOR_REFUSED],
    ['show analyze format=json for 5', EXPLAIN_FOR_REFUSED],
    ['EXPLAIN FOR CONNECTION 5', EXPLAIN_FOR_REFUSED],
    ["SELECT CONNECTION_ID() + '1", UNREADABLE_REFUSED],
    // What runs now is refused, and a KILL in a body too.
    ['CREATE TABLE t AS SELECT CONNECTION_ID() AS id', ID_REFUSED],
    ['CREATE TABLE t (c INT DEFAULT (CONNECTION_ID()))', ID_REFUSED],
    ['CREATE PROCEDURE k() KILL 5', HIDDEN_KILL_REFUSED],
    ["CREATE EVENT e ON SCHEDULE EVERY 1 HOUR DO EXECUTE IMMEDIATE 'KILL 5'", HIDDEN_KILL_REFUSED],
  ];
  for (const [sql, want] of cases) assert.deepEqual(idUseIn(sql, false), want, sql);
  for (const sql of [
    "SELECT 'CONNECTION_ID()' AS s /* CONNECTION_ID() */",
    '-- KILL 5\nSELECT 1',
    'SELECT connection_id FROM sessions',
    "SELECT 'KILL 5'",
    "INSERT INTO notes VALUES ('kill', 'explain for connection')",
    'EXPLAIN SELECT * FROM t',
    'ANALYZE TABLE t',
    // Defining stored code: its body runs later, as the compute's (as one defined elsewhere).
    'CREATE DEFINER = `app`@`%` TRIGGER t BEFORE INSERT ON x FOR EACH ROW SET NEW.conn = CONNECTION_ID()',
    'CREATE OR REPLACE SQL SECURITY INVOKER VIEW me AS SELECT CONNECTION_ID() AS id',
    "CREATE PROCEDURE p() BEGIN SELECT @@pseudo_thread_id; EXECUTE IMMEDIATE 'SELECT CONNECTION_ID()'; END",
  ]) {
    assert.equal(idUseIn(sql, false), null, sql);
  }
});

test('prepared: a KILL or a bare SELECT CONNECTION_ID() is refused too (its execute would run on any compute connection)', () => {
  const prepare = (sql: string) => Buffer.concat([Buffer.from([0x16]), Buffer.from(sql, 'latin1')]);
  assert.deepEqual(prepareRefusal(prepare('SELECT CONNECTION_ID()')), ID_REFUSED);
  assert.deepEqual(prepareRefusal(prepare('KILL QUERY ?')), HIDDEN_KILL_REFUSED);
  assert.equal(prepareRefusal(prepare('SELECT c FROM sbtest1 WHERE id=?')), null);
});

test('every refusal fits in a SIGNAL (128 characters) and is ER_NOT_SUPPORTED_YET', () => {
  for (const e of [ID_REFUSED, PSEUDO_THREAD_ID_REFUSED, HIDDEN_KILL_REFUSED, EXPLAIN_FOR_REFUSED, UNREADABLE_REFUSED]) {
    assert.ok(e.message.length <= 128, e.message);
    assert.equal(e.code, 1235);
    assert.equal(e.sqlState, '42000');
  }
});
