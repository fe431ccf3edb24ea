import { test } from 'node:test';
import assert from 'node:assert/strict';
import { judgeQuery } from '../../relay/pin-rules.js';
import { StoredCodeNames } from '../../relay/stored-code-names.js';

const readAt = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();

function known(names: string[], at = 0): StoredCodeNames {
  const code = new StoredCodeNames();
  code.update({ readAt: readAt(at), names });
  return code;
}

const pin = (sql: string, code: StoredCodeNames | null = null) => judgeQuery(Buffer.from(sql), true, code).pin;

test('a statement that mentions stored code that pins pins, however it names it', () => {
  const code = known(['lock_x', 'audit', 'v_z', 'my func', 'ünï']);
  for (const sql of [
    'SELECT lock_x()',
    'SELECT app.LOCK_X()',
    'SELECT `app`.`lock_x`()',
    'INSERT INTO audit (a) VALUES (1)',
    'SELECT * FROM v_z',
    'SELECT `My Func`()',
    'SELECT 1; SELECT lock_x()',
    '/*!50003 SELECT lock_x() */',
    'SELECT "lock_x"()', // ANSI_QUOTES
    'SELECT ÜNÏ()',
  ]) {
    assert.equal(pin(sql, code), 'stored_code', sql);
  }
  for (const sql of ['SELECT lock_xy()', "SELECT 'lock_x'", 'SELECT 1 /* lock_x() */', 'SELECT 1 -- lock_x\n', 'SELECT audits FROM t', 'SELECT 1']) {
    assert.equal(pin(sql, code), null, sql);
  }
});

test('no names, unknown names or no stored code followed: mentions cost nothing and pin nothing by themselves', () => {
  assert.equal(pin('SELECT lock_x()', known([])), null);
  assert.equal(pin('SELECT lock_x()', new StoredCodeNames()), null, 'unknown: the judge pins the session, not the text');
  assert.equal(pin('SELECT lock_x()'), null);
  assert.equal(new StoredCodeNames().known, false);
  assert.equal(known([]).names, null, 'no names: no set to look words up in');
});

test('a word beyond ASCII that is no UTF-8 (another character set) matches when some name is beyond ASCII', () => {
  const latin1 = Buffer.from('SELECT f\u00e9()', 'latin1');
  assert.equal(judgeQuery(latin1, true, known(['fé'])).pin, 'stored_code');
  assert.equal(judgeQuery(latin1, true, known(['fx'])).pin, null);
});

test('sequences advanced in the statement text pin: NEXTVAL, SETVAL, NEXT VALUE FOR; reading one does not', () => {
  for (const sql of ['SELECT NEXTVAL(s)', 'SELECT SETVAL(s, 5)', 'SELECT NEXT VALUE FOR s', 'SELECT next /* x */ value for s', 'INSERT INTO t VALUES (s.nextval)']) {
    assert.equal(pin(sql), 'sequence', sql);
  }
  for (const sql of ['SELECT LASTVAL(s)', 'SELECT PREVIOUS VALUE FOR s', 'SELECT next_value, value FROM t']) assert.equal(pin(sql), null, sql);
});

test('CREATE or ALTER of stored code that pins adds its name at once; other DDL adds nothing', () => {
  const code = known(['lock_x']);
  const learns = (sql: string, name: string) => {
    judgeQuery(Buffer.from(sql), true, code);
    assert.ok(code.names?.has(name), `${sql} -> ${name}`);
  };
  learns("CREATE FUNCTION f1() RETURNS INT RETURN GET_LOCK('a', 0)", 'f1');
  learns('CREATE OR REPLACE DEFINER = `root`@`localhost` FUNCTION IF NOT EXISTS app.`F2`() RETURNS INT RETURN lock_x()', 'f2');
  judgeQuery(Buffer.from('CREATE DEFINER=view@localhost PROCEDURE p1() BEGIN DO f1(); END'), true, code);
  assert.ok(!code.names?.has('p1') && code.callsHazard('p1'), 'a procedure pins what CALLs it, not statements naming it');
  learns('CREATE FUNCTION calls_p1() RETURNS INT BEGIN CALL app.`P1`(); RETURN 1; END', 'calls_p1');
  learns('CREATE TRIGGER tr BEFORE INSERT ON app.`Orders` FOR EACH ROW SET NEW.id = NEXT VALUE FOR s', 'orders');
  learns('CREATE ALGORITHM=MERGE SQL SECURITY INVOKER VIEW v1 AS SELECT x FROM t WHERE f2() > 0', 'v1');
  learns('ALTER VIEW v2 AS SELECT * FROM v1', 'v2');
  learns('CREATE TABLE t1 (id INT DEFAULT NEXTVAL(s))', 't1');
  learns('ALTER TABLE t2 ALTER COLUMN id SET DEFAULT SETVAL(s, 1)', 't2');
  learns('/*!50003 CREATE*/ /*!50020 DEFINER=`root`@`%`*/ /*!50003 FUNCTION `dumped`() RETURNS int RETURN f1() */', 'dumped');
  learns('SELECT 1; CREATE FUNCTION f3() RETURNS INT RETURN f1()', 'f3');
  learns('CREATE PACKAGE BODY pkg AS FUNCTION g RETURN INT AS BEGIN RETURN f1(); END; END', 'pkg');
  const before = [...code.names!].sort();
  for (const sql of [
    'CREATE FUNCTION mentions_p1() RETURNS INT RETURN p1',
    'CREATE FUNCTION plain() RETURNS INT RETURN 1',
    "CREATE FUNCTION strings() RETURNS TEXT RETURN 'GET_LOCK(lock_x)'",
    'CREATE TABLE t3 (id INT)',
    'CREATE INDEX i ON t (a)',
    "CREATE USER u IDENTIFIED BY 'GET_LOCK'",
    'CREATE DATABASE d',
    'ALTER FUNCTION f1 COMMENT "x"',
    "CREATE FUNCTION broken() RETURNS INT RETURN 'unterminated",
  ]) {
    judgeQuery(Buffer.from(sql), true, code);
  }
  assert.deepEqual([...code.names!].sort(), before);
  assert.equal(pin('SELECT dumped()', code), 'stored_code', 'the next statement calling it pins');
});

test('reads: an older read changes nothing; a name learned here stays until a read lists it or a read well after', () => {
  const code = known(['a'], 10);
  const g = code.generation;
  assert.equal(code.update({ readAt: readAt(5), names: ['b'] }), false);
  assert.deepEqual([...code.names!], ['a']);
  assert.equal(code.generation, g);
  code.learn('new_f');
  assert.ok(code.generation > g, 'learning bumps the generation: prepared statements are judged again');
  // A read made before the DDL does not list it: it stays.
  code.update({ readAt: readAt(11), names: ['a'] });
  assert.ok(code.names!.has('new_f'));
  // Unknown: every session pins; the names learned here stay for when it is known again.
  code.update({ readAt: readAt(12), names: null, reason: 'no procedure' });
  assert.equal(code.known, false);
  assert.equal(code.reason, 'no procedure');
  code.update({ readAt: new Date(Date.now() + 120_000).toISOString(), names: [] });
  assert.equal(code.known, true);
  assert.equal(code.names, null, 'a read well after the DDL that does not list it: gone');
  code.learn('x');
  code.update({ readAt: new Date(Date.now() + 200_000).toISOString(), names: ['x'] });
  assert.deepEqual([...code.names!], ['x']);
});

test('procedures that pin come with a read, for judging DDL only; a read well after forgets one learned here', () => {
  const code = new StoredCodeNames();
  code.update({ readAt: readAt(1), names: [], procedures: ['ps_setup_save'] });
  assert.equal(code.names, null, 'no names: statements cost nothing');
  assert.ok(code.callsHazard('ps_setup_save'));
  judgeQuery(Buffer.from('CREATE FUNCTION f() RETURNS INT BEGIN CALL sys.ps_setup_save(1); RETURN 1; END'), true, code);
  assert.ok((code.names as Set<string> | null)?.has('f'));
  code.learn('p_here', true);
  code.update({ readAt: new Date(Date.now() + 120_000).toISOString(), names: ['f'], procedures: [] });
  assert.equal(code.callsHazard('p_here'), false);
});
