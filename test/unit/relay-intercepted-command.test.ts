// What the relays hold back and how they read it: KILL in its forms, a bare SELECT
// CONNECTION_ID(), and the statements that answer in the proxy's stead.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { COM_PING, COM_PROCESS_KILL, COM_QUERY, COM_STMT_EXECUTE, COM_STMT_PREPARE } from '../../protocol/constants.js';
import { writeComQuery } from '../../protocol/commands/com-query.js';
import { parseKill } from '../../relay/kill-statement.js';
import { parseConnectionIdQuery } from '../../relay/connection-id-query.js';
import { answerStatement, interceptCommand, mayIntercept, statementPayload } from '../../relay/intercepted-command.js';

test('KILL in every form MariaDB takes', () => {
  const cases: Array<[string, unknown]> = [
    ['KILL 1073741825', { kind: 'thread', scope: 'connection', hardness: null, target: '1073741825' }],
    ['kill query 42', { kind: 'thread', scope: 'query', hardness: null, target: '42' }],
    ['Kill Connection 007;', { kind: 'thread', scope: 'connection', hardness: null, target: '7' }],
    ['KILL HARD QUERY 5', { kind: 'thread', scope: 'query', hardness: 'HARD', target: '5' }],
    ["KILL SOFT CONNECTION '12'", { kind: 'thread', scope: 'connection', hardness: 'SOFT', target: '12' }],
    ['  /* cancel */ KILL QUERY 9 -- from the CLI', { kind: 'thread', scope: 'query', hardness: null, target: '9' }],
    ['KILL QUERY CONNECTION_ID()', { kind: 'thread', scope: 'query', hardness: null, target: 'self' }],
    ['KILL connection_id ( )', { kind: 'thread', scope: 'connection', hardness: null, target: 'self' }],
    ['/*!KILL QUERY 3*/', { kind: 'thread', scope: 'query', hardness: null, target: '3' }],
    ['KILL QUERY ID 77', { kind: 'query_id' }],
    ['KILL USER app', { kind: 'user' }],
    ['KILL QUERY USER app', { kind: 'user' }],
    ['KILL 5+0', { kind: 'expression', scope: 'connection' }],
    ['KILL QUERY -1', { kind: 'expression', scope: 'query' }],
    ['KILL QUERY (SELECT 5)', { kind: 'expression', scope: 'query' }],
    ['KILL 5; KILL 6', { kind: 'expression', scope: 'connection' }],
    ["KILL '5", { kind: 'expression', scope: 'connection' }],
    [`KILL ${'1 + '.repeat(50)}1`, { kind: 'expression', scope: 'connection' }],
  ];
  for (const [sql, want] of cases) assert.deepEqual(parseKill(sql), want, sql);
  for (const sql of ['SELECT 1', 'KILLS 5', 'SET @kill = 1', "SELECT 'KILL 5'", '# KILL 5\nSELECT 1']) assert.equal(parseKill(sql), null, sql);
});

test('a bare SELECT CONNECTION_ID(): the names the server gives it, and its rewrite', () => {
  const cases: Array<[string, string | null, string]> = [
    ['SELECT CONNECTION_ID()', 'CONNECTION_ID()', 'SELECT CAST(7 AS UNSIGNED) AS `CONNECTION_ID()`'],
    ['select connection_id ( )', 'connection_id ( )', 'select CAST(7 AS UNSIGNED) AS `connection_id ( )`'],
    ['SELECT CONNECTION_ID() AS id;', 'id', 'SELECT CAST(7 AS UNSIGNED) AS id;'],
    ['SELECT CONNECTION_ID() id FROM DUAL', 'id', 'SELECT CAST(7 AS UNSIGNED) id FROM DUAL'],
    ["SELECT CONNECTION_ID() AS 'it''s'", "it's", "SELECT CAST(7 AS UNSIGNED) AS 'it''s'"],
    ['SELECT CONNECTION_ID() AS `a``b`', 'a`b', 'SELECT CAST(7 AS UNSIGNED) AS `a``b`'],
    ['/* pool check */ SELECT CONNECTION_ID()', 'CONNECTION_ID()', '/* pool check */ SELECT CAST(7 AS UNSIGNED) AS `CONNECTION_ID()`'],
    ["SELECT CONNECTION_ID() AS 'a\\nb'", null, "SELECT CAST(7 AS UNSIGNED) AS 'a\\nb'"],
  ];
  for (const [sql, name, rewrite] of cases) {
    const q = parseConnectionIdQuery(sql);
    assert.ok(q, sql);
    assert.equal(q.name, name, sql);
    assert.equal(q.rewrite(7), rewrite, sql);
  }
  for (const sql of [
    'SELECT CONNECTION_ID() + 1',
    'SELECT CONNECTION_ID(), 1',
    'SELECT CONNECTION_ID(/* x */)',
    'SELECT CONNECTION_ID() FROM t',
    'SELECT CONNECTION_ID() LIMIT 1',
    'SELECT CONNECTION_ID() AS',
    'SELECT * FROM information_schema.PROCESSLIST WHERE ID = CONNECTION_ID()',
    'SELECT 1',
  ]) {
    assert.equal(parseConnectionIdQuery(sql), null, sql);
  }
});

test('only commands that might be intercepted are held, from two bytes and a length', () => {
  const k = 'K'.charCodeAt(0);
  const s = 's'.charCodeAt(0);
  assert.equal(mayIntercept(COM_QUERY, k, 10, false), true);
  assert.equal(mayIntercept(COM_QUERY, s, 30, false), false, 'pipe mode leaves CONNECTION_ID() to the compute');
  assert.equal(mayIntercept(COM_QUERY, s, 30, true), true);
  assert.equal(mayIntercept(COM_QUERY, s, 100_000, true), false);
  assert.equal(mayIntercept(COM_QUERY, s, 100_000, true, true), true, 'a relay that has it whole reads every statement');
  assert.equal(mayIntercept(COM_QUERY, ' '.charCodeAt(0), 100, false), true);
  assert.equal(mayIntercept(COM_QUERY, ' '.charCodeAt(0), 100_000, false), false);
  assert.equal(mayIntercept(COM_QUERY, ' '.charCodeAt(0), 100_000, true), true, 'pooled, a KILL behind long comments is found');
  assert.equal(mayIntercept(COM_QUERY, 'I'.charCodeAt(0), 100, false), false);
  assert.equal(mayIntercept(COM_QUERY, 'I'.charCodeAt(0), 100, true), true, 'pooled, any statement may name an id');
  assert.equal(mayIntercept(COM_STMT_PREPARE, 'S'.charCodeAt(0), 100, true), true);
  assert.equal(mayIntercept(COM_STMT_PREPARE, 'S'.charCodeAt(0), 100, false), false);
  assert.equal(mayIntercept(COM_PROCESS_KILL, 0, 5, false), true);
  assert.equal(mayIntercept(COM_STMT_EXECUTE, k, 10, true), false);
  assert.equal(mayIntercept(COM_PING, -1, 1, true), false);
});

test('classifying a held command', () => {
  const kill = Buffer.from([COM_PROCESS_KILL, 0x01, 0x00, 0x00, 0x40]);
  assert.deepEqual(interceptCommand(kill, true), { kind: 'kill', kill: { kind: 'thread', scope: 'connection', hardness: null, target: '1073741825' } });
  // The server reads the first 4 bytes and ignores the rest; without 4 it would read past the packet: refused.
  assert.deepEqual(interceptCommand(Buffer.concat([kill, Buffer.from([9, 9])]), false), { kind: 'kill', kill: { kind: 'thread', scope: 'connection', hardness: null, target: '1073741825' } });
  assert.equal(interceptCommand(Buffer.from([COM_PROCESS_KILL, 1]), false)?.kind, 'refuse');
  assert.equal(interceptCommand(writeComQuery('SELECT CONNECTION_ID()'), false), null);
  assert.equal(interceptCommand(writeComQuery('Select Connection_Id()'), true)?.kind, 'connection_id');
  assert.equal(interceptCommand(writeComQuery('\n  select connection_id() x'), true)?.kind, 'connection_id');
  assert.equal(interceptCommand(writeComQuery('SELECT c FROM sbtest1 WHERE id = 5'), true), null);
  assert.equal(interceptCommand(writeComQuery('  KILL QUERY 5'), false)?.kind, 'kill');
  assert.equal(interceptCommand(writeComQuery('  UPDATE t SET a = 1'), true), null);
  // Pooled, other uses of the id are refused, in a COM_QUERY or a COM_STMT_PREPARE (whose bare form is refused too).
  assert.equal(interceptCommand(writeComQuery('SELECT CONNECTION_ID() + 1'), true)?.kind, 'refuse');
  assert.equal(interceptCommand(writeComQuery('SELECT CONNECTION_ID() + 1'), false), null, 'pipe mode leaves it to the compute');
  const prepare = (sql: string) => Buffer.concat([Buffer.from([COM_STMT_PREPARE]), Buffer.from(sql, 'latin1')]);
  assert.equal(interceptCommand(prepare('SELECT CONNECTION_ID()'), true)?.kind, 'refuse');
  assert.equal(interceptCommand(prepare('KILL QUERY 5'), true)?.kind, 'refuse');
  assert.equal(interceptCommand(prepare('SELECT user_id FROM t WHERE id = ?'), true), null);
  assert.equal(interceptCommand(prepare('KILL QUERY 5'), false), null);
  assert.equal(interceptCommand(writeComQuery(`/* ${'x'.repeat(70_000)} */ KILL 5`), true)?.kind, 'kill');
});

test('answers as statements, and statements keep the client bytes', () => {
  assert.equal(answerStatement({ kind: 'ok' }), 'DO 0');
  assert.equal(
    answerStatement({ kind: 'error', error: { code: 1094, sqlState: 'HY000', message: "Unknown thread id: 5 'x' \\" } }),
    "SIGNAL SQLSTATE 'HY000' SET MYSQL_ERRNO = 1094, MESSAGE_TEXT = 'Unknown thread id: 5 \\'x\\' \\\\'",
  );
  const bytes = Buffer.from('SELECT CONNECTION_ID() AS ñ', 'utf8');
  const sql = bytes.toString('latin1');
  assert.deepEqual(statementPayload(sql).subarray(1), bytes);
});
