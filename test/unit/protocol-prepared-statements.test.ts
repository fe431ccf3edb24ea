// The prepared-statement wire pieces a translating proxy needs, against bytes captured
// from MariaDB 10.11 (SELECT a FROM test.t WHERE a > ?, a cursor opened and fetched).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CLIENT_DEPRECATE_EOF,
  CLIENT_PROTOCOL_41,
  COM_STMT_BULK_EXECUTE,
  COM_STMT_EXECUTE,
  SERVER_STATUS_AUTOCOMMIT,
} from '../../protocol/constants.js';
import { framePacket } from '../../protocol/framing.js';
import { ReplyTracker, type ReplyEnd } from '../../protocol/reply-tracker.js';
import { PrepareReplyReader } from '../../protocol/prepare-reply.js';
import { parameterTypesOf, setStatementId, statementIdOf, withParameterTypes } from '../../protocol/commands/com-stmt.js';
import { ProtocolError } from '../../protocol/protocol-error.js';

const hex = (s: string): Buffer => Buffer.from(s, 'hex');
const PREPARE_OK = hex('000100000001000100000000');
const PARAM = hex('03646566000000013f000c3f0000000000068000000000');
const COLUMN = hex('03646566047465737401740174016101610c3f000b00000003000000');
const EOF = hex('fe00000200');
const ROW = hex('000001000000');

function reply(...payloads: Buffer[]): Buffer {
  return Buffer.concat(payloads.map((p, i) => framePacket(p, (i + 1) & 0xff)));
}

test('a prepare reply is read whole: id and counts, EOFs only without CLIENT_DEPRECATE_EOF', () => {
  const r = new PrepareReplyReader(CLIENT_PROTOCOL_41);
  const done = [PREPARE_OK, PARAM, EOF, COLUMN, EOF].map((p) => r.push(p));
  assert.deepEqual(done, [false, false, false, false, true]);
  r.check();
  assert.deepEqual(r.ok, { statementId: 1, columns: 1, params: 1 });
  const d = new PrepareReplyReader(CLIENT_PROTOCOL_41 | CLIENT_DEPRECATE_EOF);
  assert.deepEqual([PREPARE_OK, PARAM, COLUMN].map((p) => d.push(p)), [false, false, true]);
  assert.throws(() => d.push(EOF), ProtocolError);
  const e = new PrepareReplyReader(CLIENT_PROTOCOL_41);
  assert.equal(e.push(hex('ff2804233432303030596f75')), true);
  assert.ok(e.error);
  // An EOF missing where one is due: out of step.
  const bad = new PrepareReplyReader(CLIENT_PROTOCOL_41);
  for (const p of [PREPARE_OK, PARAM, COLUMN, COLUMN, EOF]) bad.push(p);
  assert.throws(() => bad.check(), ProtocolError);
});

test('an execute that opens a cursor ends after its column definitions; a fetch is rows and an EOF', () => {
  for (const deprecateEof of [false, true]) {
    const caps = CLIENT_PROTOCOL_41 | (deprecateEof ? CLIENT_DEPRECATE_EOF : 0);
    // Status 0x62 (cursor exists) after the columns; fetches end 0x42 (more rows), then 0x82 (last row sent).
    const end = (status: number) => (deprecateEof ? hex(`fe0000${status.toString(16).padStart(2, '0')}000000`) : hex(`fe0000${status.toString(16).padStart(2, '0')}00`));
    const bytes = Buffer.concat([
      reply(hex('01'), COLUMN, end(0x62)),
      reply(ROW, ROW, end(0x42)),
      reply(ROW, end(0x82)),
      reply(hex('01'), COLUMN, ...(deprecateEof ? [] : [EOF]), ROW, end(0x22)),
    ]);
    const ends: ReplyEnd[] = [];
    const t = new ReplyTracker(caps, 0, SERVER_STATUS_AUTOCOMMIT, (e) => ends.push(e));
    t.expect();
    t.expectRows();
    t.expectRows();
    t.expect();
    // Byte by byte: no reply boundary depends on how the bytes arrive.
    for (const b of bytes) t.push(Buffer.from([b]));
    assert.deepEqual(
      ends.map((e) => e.statusFlags),
      [0x62, 0x42, 0x82, 0x22],
      `deprecateEof ${deprecateEof}`,
    );
    assert.equal(t.pending, 0);
  }
});

test('statement ids are read and rewritten in place; types put back where a client sent them once', () => {
  const execute = hex('17' + '07000000' + '00' + '01000000' + '00' + '01' + '0300' + '2a000000');
  assert.equal(statementIdOf(execute), 7);
  setStatementId(execute, 0xfffffffe);
  assert.equal(execute.readUInt32LE(1), 0xfffffffe);
  const typed = parameterTypesOf(execute, 1);
  assert.deepEqual(typed, { at: 12, present: true, flagAt: 11 });
  // Without types (new-params-bound 0): they go back in, flag set.
  const bare = hex('17' + '07000000' + '00' + '01000000' + '00' + '00' + '2a000000');
  const where = parameterTypesOf(bare, 1);
  assert.equal(where.present, false);
  const fixed = withParameterTypes(bare, where, hex('0300'));
  assert.deepEqual(fixed, hex('17' + '07000000' + '00' + '01000000' + '00' + '01' + '0300' + '2a000000'));
  assert.equal(fixed[0], COM_STMT_EXECUTE);
  // Bulk: flags u16, types after them with bit 128.
  const bulk = hex('fa' + '07000000' + '0000' + '00' + '2a000000');
  const bw = parameterTypesOf(bulk, 1);
  assert.deepEqual(bw, { at: 7, present: false, flagAt: 5 });
  const bulkFixed = withParameterTypes(bulk, bw, hex('0300'));
  assert.equal(bulkFixed[0], COM_STMT_BULK_EXECUTE);
  assert.equal(bulkFixed.readUInt16LE(5), 128);
  assert.deepEqual(bulkFixed.subarray(7, 9), hex('0300'));
  assert.throws(() => parameterTypesOf(hex('1707000000'), 1), ProtocolError);
  assert.throws(() => statementIdOf(hex('1707')), ProtocolError);
});
