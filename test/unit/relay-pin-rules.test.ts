import { test } from 'node:test';
import assert from 'node:assert/strict';
import { judgeQuery } from '../../relay/pin-rules.js';

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
  assert.deepEqual(judgeQuery(Buffer.from('SET autocommit=1, @x=2')), { pin: 'set_statement', autocommitOnly: false });
});
