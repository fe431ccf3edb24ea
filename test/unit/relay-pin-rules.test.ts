import { test } from 'node:test';
import assert from 'node:assert/strict';
import { judgeQuery } from '../../relay/pin-rules.js';
import { stringModes } from '../../relay/sql-lexer.js';
import { CHANGES_INSERT_ID, MAY_READ_FILE, READS_INSERT_ID, READS_ROW_COUNTS } from '../../relay/query-verdict.js';

const pin = (sql: string) => judgeQuery(Buffer.from(sql)).pin;

test('statements that leave session state pin, whatever the case and spacing', () => {
  const cases: Array<[string, string]> = [
    ['SET @x = 1', 'set_statement'],
    ['select @y := 2', 'user_variable'],
    ['SELECT 1 INTO @z', 'user_variable'],
    ["SET SESSION sql_mode = ''", 'set_statement'],
    ['set names utf8mb4', 'set_statement'],
    ['SET TRANSACTION ISOLATION LEVEL SERIALIZABLE', 'set_statement'],
    ['  /* hi */ SET time_zone = "+00:00"', 'set_statement'],
    ['USE shop', 'use_database'],
    ['CREATE TEMPORARY TABLE t (a INT)', 'temporary_table'],
    ["PREPARE s FROM 'SELECT 1'", 'prepared_statement'],
    ['EXECUTE s', 'prepared_statement'],
    ["DO GET_LOCK('job', 10)", 'lock'],
    ['LOCK TABLES t READ', 'lock'],
    ['FLUSH TABLES WITH READ LOCK', 'lock'],
    ['BACKUP STAGE START', 'lock'],
    ['backup stage end', 'lock'],
    ['SELECT SQL_CALC_FOUND_ROWS * FROM t LIMIT 1', 'found_rows'],
    ['HANDLER t OPEN', 'handler'],
    ['CALL shop.refresh()', 'stored_procedure'],
    ['SELECT 1; SET @a = 2', 'set_statement'],
    ['SELECT 1; SELECT @a', 'user_variable'],
    ['SELECT 1; set autocommit = 0', 'set_statement'],
    ['/*!40101 SET NAMES utf8 */', 'set_statement'],
    ['/*M!100100 SELECT @v */', 'user_variable'],
  ];
  for (const [sql, reason] of cases) assert.equal(pin(sql), reason, sql);
});

test('plain statements, strings, comments and system variables do not pin', () => {
  const plain = [
    'SELECT 1',
    "SELECT 'SET @x = 1', \"LOCK\", `temporary`",
    "INSERT INTO users (email) VALUES ('a@example.com')",
    "SELECT 'it''s @home', 'back\\'slash @x'",
    'SELECT @@version, @@session.sql_mode',
    'SELECT 1 -- SET @x = 1\n',
    'SELECT 1 # USE other',
    'SELECT 1 /* CREATE TEMPORARY TABLE */',
    'UPDATE t SET a = 1 WHERE id = 2',
    'SELECT offset, settings, locked, user_lock FROM t',
    'BEGIN',
    'COMMIT',
    'SELECT 5-- 3',
    'SELECT é, ü FROM t',
  ];
  for (const sql of plain) assert.equal(pin(sql), null, sql);
});

test('setting only autocommit is left to the status flags', () => {
  for (const sql of ['SET autocommit=1', 'SET AUTOCOMMIT = 0', 'set session autocommit = ON', 'SET @@autocommit := 1;', 'SET @@session.autocommit=true ']) {
    assert.deepEqual(judgeQuery(Buffer.from(sql)), { pin: null, autocommitOnly: true }, sql);
  }
  // A statement that pins is taken to read and change LAST_INSERT_ID() (the scan stopped where it pinned).
  assert.deepEqual(judgeQuery(Buffer.from('SET autocommit=1, @x=2')), {
    pin: 'set_statement',
    autocommitOnly: false,
    previous: READS_INSERT_ID | CHANGES_INSERT_ID,
  });
});

test("what a statement does with the previous statement's values: LAST_INSERT_ID(), ROW_COUNT(), FOUND_ROWS()", () => {
  const both = READS_INSERT_ID | CHANGES_INSERT_ID;
  const cases: Array<[string, number]> = [
    ['SELECT 1', 0],
    ['SELECT * FROM t WHERE id = 3', 0],
    ['SELECT LAST_INSERT_ID()', both],
    ['select last_insert_id ( )', both],
    ['SELECT @@last_insert_id, @@SESSION.identity', both],
    ['INSERT INTO child VALUES (LAST_INSERT_ID())', both],
    ['UPDATE t SET v = LAST_INSERT_ID(v + 1)', both],
    ['INSERT INTO t (a) VALUES (1)', CHANGES_INSERT_ID],
    ['  /* bulk */ replace INTO t VALUES (1)', CHANGES_INSERT_ID],
    ["LOAD DATA INFILE 'f' INTO TABLE t", CHANGES_INSERT_ID | MAY_READ_FILE],
    ["load data local infile 'f' into table t", CHANGES_INSERT_ID | MAY_READ_FILE],
    ['CREATE TABLE u SELECT * FROM t', CHANGES_INSERT_ID],
    ['BEGIN NOT ATOMIC INSERT INTO t VALUES (); END', CHANGES_INSERT_ID],
    ['IF 1 THEN INSERT INTO t VALUES (); END IF', CHANGES_INSERT_ID],
    // Not a statement's first word, in a string or a comment: nothing.
    ["SELECT REPLACE(name, 'a', 'b') FROM t", 0],
    ["SELECT 'LAST_INSERT_ID()', `row_count` FROM t", 0],
    ['SELECT 1 /* FOUND_ROWS() */ -- ROW_COUNT()\n', 0],
    ['UPDATE t SET a = 1 WHERE b IN (SELECT c FROM d)', 0],
    ['SELECT ROW_COUNT()', READS_ROW_COUNTS],
    ['SELECT FOUND_ROWS() AS n', READS_ROW_COUNTS],
    ['IF ROW_COUNT() > 0 THEN DO 1; END IF', READS_ROW_COUNTS],
    // The previous statement's warnings and errors, whose texts may hold its data.
    ['SHOW WARNINGS', READS_ROW_COUNTS],
    ['show errors limit 5', READS_ROW_COUNTS],
    ['SHOW COUNT(*) WARNINGS', READS_ROW_COUNTS],
    ['SELECT @@warning_count, @@session.error_count', READS_ROW_COUNTS],
    ['GET DIAGNOSTICS CONDITION 1 @p = MESSAGE_TEXT', READS_ROW_COUNTS | both],
    // A column or table of that name is not a read of them.
    ['SELECT warnings, errors FROM jobs', 0],
    ['SHOW TABLES', 0],
    ['UPDATE t SET a = 1; SHOW WARNINGS', 0],
    // After a `;` they read a statement of the same text.
    ['UPDATE t SET a = 1; SELECT ROW_COUNT()', 0],
    ['INSERT INTO t VALUES (); SELECT ROW_COUNT(), LAST_INSERT_ID()', both],
    // A statement that pins: guessed from its whole text.
    ['SET @x = ROW_COUNT()', both | READS_ROW_COUNTS],
    ['SELECT SQL_CALC_FOUND_ROWS * FROM t LIMIT 1', both],
  ];
  for (const tracked of [false, true]) {
    for (const [sql, previous] of cases) {
      assert.equal(judgeQuery(Buffer.from(sql), tracked).previous ?? 0, previous, `${sql} (tracked: ${tracked})`);
    }
  }
});

test('tracked, the forms of SET the trackers miss pin before they run', () => {
  const judge = (sql: string) => judgeQuery(Buffer.from(sql), true);
  const pins = [
    // MariaDB 10.11 reports no assignment to @@name without a scope.
    "SET @@time_zone = '+01:00'",
    "SET @@time_zone:='+01:00'",
    "SET time_zone = '+01:00', @@sql_mode = 'ANSI'",
    "SET @@global.max_statement_time = 0, @@time_zone = '+04:00'",
    "SET @@`time_zone` = '+01:00'",
    "BEGIN NOT ATOMIC SET @@time_zone = '+01:00'; END",
    // Names not replayed, behind comments or quotes.
    'SET `max_statement_time` = 5',
    'SET /* c */ max_statement_time = 5',
    'SET SESSION /* c */ max_statement_time = 5',
    'SET # c\n max_statement_time = 5',
    // A collation the text does not give plainly.
    'SET NAMES latin1 COLLATE latin1_bin + 1',
    "SET NAMES latin1 COLLATE CONCAT('latin1', '_bin')",
  ];
  for (const sql of pins) assert.equal(judge(sql).pin, 'set_statement', sql);
  const replayed = [
    "SET @@session.time_zone = '+01:00'",
    "SET @@LOCAL . time_zone = '+01:00'",
    "SET sql_mode = CONCAT(@@sql_mode, ',ANSI_QUOTES')",
    "SET /* c */ time_zone='+01:00'",
    "SET `time_zone` = '+01:00'",
    "SET GLOBAL max_statement_time = 11, SESSION time_zone = '+04:00'",
  ];
  for (const sql of replayed) assert.equal(judge(sql).pin, null, sql);
  const collation = (sql: string) => judge(sql).collation;
  assert.equal(collation('SET NAMES latin1 /* c */ COLLATE latin1_bin'), 'latin1_bin');
  assert.equal(collation("SET time_zone = '+01:00', NAMES 'latin1' COLLATE 'latin1_bin'"), 'latin1_bin');
  assert.equal(collation('SET NAMES latin1 COLLATE DEFAULT'), undefined);
  assert.equal(collation('/*!50503 SET NAMES utf8mb4 COLLATE utf8mb4_unicode_ci */'), 'utf8mb4_unicode_ci');
  assert.deepEqual(judge("SET /* c */ STATEMENT time_zone = '+05:00' FOR SELECT 1").temporary, ['time_zone']);
});

test('under NO_BACKSLASH_ESCAPES, and in an ANSI_QUOTES identifier, a backslash ends nothing: what follows is read', () => {
  const single = Buffer.from("SELECT 'a\\', @x := 5 -- '");
  assert.equal(judgeQuery(single, true).pin, null);
  assert.equal(judgeQuery(single, true, null, stringModes('NO_BACKSLASH_ESCAPES')).pin, 'user_variable');
  assert.equal(judgeQuery(single, true, null, stringModes('ANSI_QUOTES')).pin, null);
  const double = Buffer.from('SELECT 1 AS "a\\", @x := 5 -- "');
  assert.equal(judgeQuery(double, true).pin, null);
  assert.equal(judgeQuery(double, true, null, stringModes('REAL_AS_FLOAT,PIPES_AS_CONCAT,ANSI_QUOTES,IGNORE_SPACE,ANSI')).pin, 'user_variable');
  assert.equal(judgeQuery(double, true, null, stringModes('NO_BACKSLASH_ESCAPES')).pin, 'user_variable');
  assert.equal(judgeQuery(Buffer.from("SELECT 'it''s \\n'"), true, null, stringModes('NO_BACKSLASH_ESCAPES')).pin, null);
});

test('keywords are matched in any case of their letters, and only whole and in ASCII', () => {
  // Mixed case: the scan compares upper-case letters, however the client wrote them.
  assert.equal(pin('sElEcT Sql_Calc_Found_Rows * FROM t'), 'found_rows');
  assert.equal(pin('Create Temporary Table t (a INT)'), 'temporary_table');
  assert.equal(pin('begin not atomic sEt @a = 1; end'), 'set_statement');
  assert.equal(pin('SET rOlE admin'), 'set_statement');
  assert.equal(pin('select NeXt VaLuE for s'), 'sequence');
  assert.equal(judgeQuery(Buffer.from('sHoW wArNiNgS')).previous! & READS_ROW_COUNTS, READS_ROW_COUNTS);
  assert.equal(judgeQuery(Buffer.from('SELECT lAsT_iNsErT_iD()')).previous! & READS_INSERT_ID, READS_INSERT_ID);
  // A word that holds a keyword, is longer than any, or spells one with letters outside ASCII is none of them.
  for (const sql of ['SELECT locks, get_locks, nextval2 FROM t', 'SELECT sql_calc_found_rows_x FROM t', 'SELECT lock_', 'SELECT ĺock', 'SELECT ßet']) {
    assert.equal(pin(sql), null, sql);
  }
  // latin1 text: 'ß' (0xdf) upper-cases to 'SS' in JavaScript, which spells no keyword, and 0xc0-0xde are their own upper case.
  assert.equal(judgeQuery(Buffer.from('SELECT \xdfet, \xc0LTER', 'latin1')).pin, null);
});
