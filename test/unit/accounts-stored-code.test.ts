import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  MAX_STORED_OBJECTS,
  StoredCodeFormatError,
  hazardsOf,
  mentionedNames,
  parseStoredCode,
  storedCodeProcedureSql,
  storedObjectsFromRows,
  usesHazardWord,
  type StoredObject,
} from '../../accounts/stored-code.js';

const routine = (name: string, text: string): StoredObject => ({ kind: 'function', name, text });
const procedure = (name: string, text: string): StoredObject => ({ kind: 'procedure', name, text });
const trigger = (table: string, text: string): StoredObject => ({ kind: 'trigger', name: table, text });
const view = (name: string, text: string): StoredObject => ({ kind: 'view', name, text });

test('hazard words: a named lock, a sequence advanced or set; reading a sequence is none', () => {
  for (const text of [
    "RETURN GET_LOCK('x', 0)",
    'return nextval(s)',
    'RETURN SETVAL(s, 10)',
    'RETURN NEXT VALUE FOR s',
    'RETURN next /* comment */ value for s',
    'RETURN NEXT -- comment\n VALUE FOR s',
    'RETURN s.NEXTVAL',
  ]) {
    assert.ok(usesHazardWord(text), text);
  }
  for (const text of ['RETURN LASTVAL(s)', 'RETURN PREVIOUS VALUE FOR s', "RETURN RELEASE_LOCK('x')", 'RETURN get_locks + nextvalue', 'SELECT next_value FROM t']) {
    assert.ok(!usesHazardWord(text), text);
  }
});

test('mentioned names: words, quoted identifiers whole, lower case; a quote in a string hides nothing', () => {
  const names = mentionedNames('SELECT `My Func`(), "Other""s" FROM Db.T1 WHERE x = \'a"b\' AND GET_LOCK(1) AND é');
  for (const n of ['select', 'my func', 'other"s', 'db', 't1', 'get_lock', 'é']) assert.ok(names.has(n), n);
});

const hazardousNames = (objects: StoredObject[]) => hazardsOf(objects).names;

test('the names that pin are a fixed point over routines, triggers and views', () => {
  const objects = [
    routine('lock_x', "RETURN GET_LOCK('x', 0)"),
    routine('outer_x', 'RETURN lock_x() + 1'),
    routine('outer_outer', 'RETURN `OUTER_X`()'),
    routine('harmless', 'RETURN 1 + LASTVAL(s)'),
    trigger('audit', "SET NEW.got = GET_LOCK('y', 0)"),
    routine('writes_audit', 'BEGIN INSERT INTO app.audit VALUES (1); RETURN 1; END'),
    view('v_over_f', 'select `app`.`outer_x`() AS `x`'),
    view('v_over_audit', 'select `a` from `app`.`audit`'),
    view('v_plain', 'select 1 AS `one`'),
    routine('calls_proc', 'BEGIN CALL p_lock(); RETURN 1; END'),
    procedure('p_lock', 'BEGIN DO GET_LOCK(\'q\', 1); END'),
    procedure('p_calls_p', 'BEGIN CALL p_lock(); END'),
    { kind: 'default', name: 'orders', text: 'nextval(`app`.`s`)' },
    routine('inserts_orders', 'BEGIN INSERT INTO orders () VALUES (); RETURN 1; END'),
    routine('recursive', 'RETURN recursive() + 1'),
  ];
  assert.deepEqual(hazardousNames(objects), [
    'audit',
    'calls_proc',
    'inserts_orders',
    'lock_x',
    'orders',
    'outer_outer',
    'outer_x',
    'v_over_audit',
    'v_over_f',
    'writes_audit',
  ]);
  assert.deepEqual(hazardsOf(objects).procedures, ['p_calls_p', 'p_lock'], 'procedures come apart, for judging DDL');
  assert.deepEqual(hazardousNames([]), []);
  assert.deepEqual(hazardousNames([routine('a', 'RETURN b()'), routine('b', 'RETURN a()')]), [], 'a cycle with no hazard is no hazard');
  // Procedures count for what calls them, but are not given out: a client runs one only with CALL, which pins.
  assert.deepEqual(hazardousNames([procedure('ps_setup_save', "DO GET_LOCK('sys.ps_setup_save', 1)"), procedure('diagnostics', 'CALL sys.ps_setup_save(0)')]), []);
  assert.deepEqual(hazardousNames([procedure('p', "DO GET_LOCK('a', 1)"), routine('p', 'RETURN 1')]), [], 'a harmless function of the same name');
  // A procedure runs by CALL alone: a word that only looks like its name (GET DIAGNOSTICS) is no call.
  assert.deepEqual(
    hazardousNames([
      procedure('diagnostics', 'CALL sys.ps_setup_save(0)'),
      procedure('ps_setup_save', "DO GET_LOCK('sys.ps_setup_save', 1)"),
      routine('ps_thread_trx_info', 'BEGIN DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN GET DIAGNOSTICS CONDITION 1 @m = MESSAGE_TEXT; END; RETURN 1; END'),
      routine('calls_it', 'BEGIN CALL `sys`.`Diagnostics`(); RETURN 1; END'),
    ]),
    ['calls_it'],
  );
});

test("the procedure's rows are read strictly: a bad row or too many make the read fail, not empty", () => {
  assert.deepEqual(storedObjectsFromRows([{ kind: 'view', name: 'v', text: Buffer.from('select 1') }, { kind: 'routine', name: 'f', text: null }]), [
    { kind: 'view', name: 'v', text: 'select 1' },
    { kind: 'routine', name: 'f', text: '' },
  ]);
  assert.throws(() => storedObjectsFromRows(undefined), /no rows/);
  assert.throws(() => storedObjectsFromRows([{ kind: 'view', text: 'x' }]), /no kind or name/);
  assert.throws(() => storedObjectsFromRows({ length: MAX_STORED_OBJECTS + 1 }), /no rows/);
  assert.throws(() => storedObjectsFromRows(Array.from({ length: MAX_STORED_OBJECTS + 1 }, () => ({ kind: 'v', name: 'n', text: '' }))), /over/);
});

test('the wire form: names lower case, or null with a reason; anything else is an error; absent is unknown', () => {
  const readAt = '2026-01-01T00:00:00.000Z';
  assert.deepEqual(parseStoredCode({ readAt, names: ['f', 't'] }), { readAt, names: ['f', 't'], procedures: [] });
  assert.deepEqual(parseStoredCode({ readAt, names: [], procedures: ['p'] }), { readAt, names: [], procedures: ['p'] });
  assert.deepEqual(parseStoredCode({ readAt, names: null, reason: 'no procedure' }), { readAt, names: null, reason: 'no procedure' });
  assert.equal(parseStoredCode(undefined).names, null, 'a control plane from before it: unknown, never none');
  for (const bad of [null, [], { readAt }, { readAt: 'yesterday', names: [] }, { readAt, names: ['F'] }, { readAt, names: [''] }, { readAt, names: [1] }, { readAt, names: 'f' }, { readAt, names: [], procedures: ['P'] }]) {
    assert.throws(() => parseStoredCode(bad), StoredCodeFormatError, JSON.stringify(bad));
  }
});

test('the procedure is one statement on one line, run as its definer, reading every kind', () => {
  const sql = storedCodeProcedureSql("'root'@'localhost'");
  assert.ok(!sql.includes('\n'));
  assert.match(sql, /^CREATE DEFINER = 'root'@'localhost' PROCEDURE IF NOT EXISTS mysql\.wakeproxy_stored_code\(\) READS SQL DATA SQL SECURITY DEFINER SELECT /);
  for (const table of ['ROUTINES', 'TRIGGERS', 'VIEWS', 'COLUMNS']) assert.ok(sql.includes(`information_schema.${table}`), table);
  assert.ok(sql.endsWith(';'));
});

test("the README shows the procedure as the control plane makes it, for owners of older computes and static backends", () => {
  const readme = readFileSync(fileURLToPath(new URL('../../../README.md', import.meta.url)), 'utf8');
  const section = readme.slice(readme.indexOf('### Stored code and transaction pooling'));
  const shown = /CREATE DEFINER = 'root'@'localhost' PROCEDURE[^]*?;\n/.exec(section)?.[0];
  assert.ok(shown, 'the section shows the procedure');
  const flat = (sql: string) => sql.replace(/\s+/g, ' ').trim();
  assert.equal(flat(shown), flat(storedCodeProcedureSql("'root'@'localhost'")));
});
