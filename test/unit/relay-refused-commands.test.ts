// The commands the proxy refuses rather than pass on (relay/refused-commands.ts), and how
// the transaction relay's statement router answers malformed statement commands: as the
// server does (MariaDB 10.11), or with the server's code for a malformed packet.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  COM_BINLOG_DUMP,
  COM_BINLOG_DUMP_GTID,
  COM_DEBUG,
  COM_PROCESS_KILL,
  COM_REFRESH,
  COM_REGISTER_SLAVE,
  COM_SHUTDOWN,
  COM_STMT_BULK_EXECUTE,
  COM_STMT_CLOSE,
  COM_STMT_EXECUTE,
  COM_STMT_FETCH,
  COM_STMT_RESET,
  COM_STMT_SEND_LONG_DATA,
} from '../../protocol/index.js';
import { mayRefuse, refusalOf } from '../../relay/refused-commands.js';
import { mayIntercept } from '../../relay/intercepted-command.js';
import { STEP_DROP, STEP_ERROR, StatementRouter } from '../../relay/statement-router.js';

test('replication and shutdown are looked at only on pooled connections; other commands never', () => {
  for (const c of [COM_REGISTER_SLAVE, COM_BINLOG_DUMP, COM_BINLOG_DUMP_GTID, COM_SHUTDOWN]) {
    assert.equal(mayRefuse(c, true), true);
    assert.equal(mayRefuse(c, false), false);
    assert.equal(mayIntercept(c, -1, 10, true), true);
    assert.equal(mayIntercept(c, -1, 10, false), false);
  }
  for (const c of [COM_REFRESH, COM_DEBUG, 0x20, 0xff]) assert.equal(mayIntercept(c, -1, 10, true), false);
});

test('pooled: replication commands are refused with 1235 naming the command; pipe mode lets them go', () => {
  for (const c of [COM_REGISTER_SLAVE, COM_BINLOG_DUMP, COM_BINLOG_DUMP_GTID]) {
    const r = refusalOf(Buffer.from([c, 1, 2, 3, 4, 5, 6, 7]), true);
    assert.equal(r?.kind, 'refuse');
    if (r?.kind !== 'refuse') return;
    assert.equal(r.error.code, 1235);
    assert.equal(r.error.sqlState, '42000');
    assert.match(r.error.message, /^wake-proxy: COM_(REGISTER_SLAVE|BINLOG_DUMP|BINLOG_DUMP_GTID) is not supported on a pooled connection/);
    assert.equal(refusalOf(Buffer.from([c, 1, 2, 3]), false), null);
  }
});

test('pooled: COM_SHUTDOWN becomes a statement that only signals (1227 without the privilege, 1235 with it)', () => {
  const r = refusalOf(Buffer.from([COM_SHUTDOWN]), true);
  assert.equal(r?.kind, 'statement');
  if (r?.kind !== 'statement') return;
  assert.match(r.sql, /^BEGIN NOT ATOMIC IF EXISTS \(SELECT 1 FROM information_schema\.USER_PRIVILEGES WHERE PRIVILEGE_TYPE = 'SHUTDOWN' AND GRANTEE = /);
  assert.match(r.sql, /MYSQL_ERRNO = 1235/);
  assert.match(r.sql, /SQLSTATE '42000' SET MYSQL_ERRNO = 1227, MESSAGE_TEXT = 'Access denied; you need \(at least one of\) the SHUTDOWN privilege\(s\) for this operation'/);
  assert.doesNotMatch(r.sql, /\bSHUTDOWN\s*;|^SHUTDOWN/, 'never the statement itself');
  assert.equal(refusalOf(Buffer.from([COM_SHUTDOWN]), false), null);
});

test('COM_PROCESS_KILL without a whole id is refused in every mode; with one (and more) it is a KILL', () => {
  for (const pooled of [false, true]) {
    for (const n of [0, 1, 3]) {
      const r = refusalOf(Buffer.concat([Buffer.from([COM_PROCESS_KILL]), Buffer.alloc(n, 1)]), pooled);
      assert.deepEqual(r, { kind: 'refuse', error: { code: 1835, sqlState: 'HY000', message: `wake-proxy: COM_PROCESS_KILL carries a 4-byte connection id; this one has ${n} bytes` } });
    }
    assert.equal(refusalOf(Buffer.from([COM_PROCESS_KILL, 1, 0, 0, 0]), pooled), null);
    assert.equal(refusalOf(Buffer.from([COM_PROCESS_KILL, 1, 0, 0, 0, 9]), pooled), null);
  }
});

const id = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};
const cmd = (c: number, ...parts: Buffer[]) => Buffer.concat([Buffer.from([c]), ...parts]);

test('statement commands too short: no reply where the server sends none, else the server\'s 1835 (HY000)', () => {
  const router = new StatementRouter(8, () => '', null, true);
  assert.equal(router.step(cmd(COM_STMT_CLOSE), COM_STMT_CLOSE, null), STEP_DROP);
  assert.equal(router.step(cmd(COM_STMT_CLOSE, Buffer.from([1, 2])), COM_STMT_CLOSE, null), STEP_DROP);
  assert.equal(router.step(cmd(COM_STMT_SEND_LONG_DATA, Buffer.from([1])), COM_STMT_SEND_LONG_DATA, null), STEP_DROP);
  assert.equal(router.step(cmd(COM_STMT_SEND_LONG_DATA, id(7), Buffer.from([0])), COM_STMT_SEND_LONG_DATA, null), STEP_DROP);
  for (const [c, body] of [
    [COM_STMT_BULK_EXECUTE, Buffer.from([1, 2, 3, 4, 5])],
    [COM_STMT_EXECUTE, id(7)],
    [COM_STMT_EXECUTE, Buffer.concat([id(7), Buffer.from([0, 1, 0, 0])])],
    [COM_STMT_RESET, Buffer.from([1])],
    [COM_STMT_FETCH, Buffer.from([1, 0])],
  ] as const) {
    assert.equal(router.step(cmd(c, body), c, null), STEP_ERROR);
    assert.deepEqual(router.error, { code: 1835, sqlState: 'HY000', message: 'Malformed communication packet' });
  }
});

test('COM_STMT_BULK_EXECUTE: 1295 without the capability or with a flag 10.11 does not take, before the id is looked up; an unknown id as the server words it', () => {
  const unsupported = { code: 1295, sqlState: 'HY000', message: 'This command is not supported in the prepared statement protocol yet' };
  const without = new StatementRouter(8, () => '', null, false);
  assert.equal(without.step(cmd(COM_STMT_BULK_EXECUTE, id(77), Buffer.from([0x80, 0])), COM_STMT_BULK_EXECUTE, null), STEP_ERROR);
  assert.deepEqual(without.error, unsupported);
  const router = new StatementRouter(8, () => '', null, true);
  assert.equal(router.step(cmd(COM_STMT_BULK_EXECUTE, id(77), Buffer.from([0x40, 0])), COM_STMT_BULK_EXECUTE, null), STEP_ERROR);
  assert.deepEqual(router.error, unsupported);
  assert.equal(router.step(cmd(COM_STMT_BULK_EXECUTE, id(77), Buffer.from([0x80, 0])), COM_STMT_BULK_EXECUTE, null), STEP_ERROR);
  assert.deepEqual(router.error, { code: 1243, sqlState: 'HY000', message: 'Unknown prepared statement handler (77) given to mysqld_stmt_execute' });
});
