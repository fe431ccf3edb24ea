import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CLIENT_DEPRECATE_EOF,
  CLIENT_PROTOCOL_41,
  CLIENT_SESSION_TRACK,
  CLIENT_TRANSACTIONS,
  MARIADB_CLIENT_CACHE_METADATA,
  MARIADB_CLIENT_EXTENDED_TYPE_INFO,
  MARIADB_CLIENT_PROGRESS,
  SERVER_MORE_RESULTS_EXISTS,
} from '../../protocol/constants.js';
import { writeErrPacket } from '../../protocol/packets/err-packet.js';
import { writeOkPacket } from '../../protocol/packets/ok-packet.js';
import { TextResultReader, moreResults, type CommandReply } from '../../protocol/result-set.js';
import { ProtocolError } from '../../protocol/protocol-error.js';

const hex = (s: string): Buffer => Buffer.from(s, 'hex');

// Captured from MariaDB 10.11: SELECT 1 AS a, NULL AS b, 'x' AS c, for clients that declared
// MARIADB_CLIENT_EXTENDED_TYPE_INFO (mysql2 3.24 does): an empty extended-info block after the
// column name.
const COLUMNS = [
  hex('03646566000000016100000c3f0001000000038100000000'),
  hex('03646566000000016200000c3f0000000000068000000000'),
  hex('03646566000000016300000c2d0004000000fd0100270000'),
];
const ROW = hex('0131fb0178');
const EOF = hex('fe00000200');
const OK_FE = hex('fe000002000000'); // CLIENT_DEPRECATE_EOF terminator
const CAPS = 0x08baf3ce; // mysql2's (no DEPRECATE_EOF)
const MYSQL2_EXT = MARIADB_CLIENT_EXTENDED_TYPE_INFO;
/** The first column without the extended-info byte, as sent to clients that did not declare it. */
const PLAIN_COLUMN = hex('036465660000000161' + '00' + '0c3f0001000000038100000000');
const EXPECTED = { kind: 'rows', columns: ['a', 'b', 'c'], rows: [['1', null, 'x']], statusFlags: 2, warnings: 0 };

function feed(reader: TextResultReader, packets: Buffer[]): CommandReply {
  let reply: CommandReply | null = null;
  packets.forEach((p, i) => {
    assert.equal(reply, null, `reply complete before packet ${i}`);
    reply = reader.push(p);
  });
  assert.ok(reply, 'reply incomplete');
  return reply;
}

test('reads a result set with EOF packets', () => {
  const reply = feed(new TextResultReader(CAPS, MYSQL2_EXT), [hex('03'), ...COLUMNS, EOF, ROW, EOF]);
  assert.deepEqual(reply, EXPECTED);
});

test('reads column definitions without extended type info', () => {
  const reply = feed(new TextResultReader(CAPS, 0), [hex('01'), PLAIN_COLUMN, EOF, hex('0131'), EOF]);
  assert.deepEqual(reply, { ...EXPECTED, columns: ['a'], rows: [['1']] });
  // Reading with the wrong idea of the extended-info block fails instead of misreading.
  const withExt = new TextResultReader(CAPS, MYSQL2_EXT);
  withExt.push(hex('01'));
  assert.throws(() => withExt.push(PLAIN_COLUMN), ProtocolError);
  const withoutExt = new TextResultReader(CAPS, 0);
  withoutExt.push(hex('01'));
  assert.throws(() => withoutExt.push(COLUMNS[0]!), ProtocolError);
});

test('reads a result set under CLIENT_DEPRECATE_EOF with the metadata flag of MARIADB_CLIENT_CACHE_METADATA', () => {
  // Captured with the mariadb CLI's capabilities plus CLIENT_DEPRECATE_EOF.
  assert.ok(0x01bfa284 & CLIENT_DEPRECATE_EOF);
  const reply = feed(new TextResultReader(0x01bfa284, 0x1d), [hex('0301'), ...COLUMNS, ROW, OK_FE]);
  assert.deepEqual(reply, EXPECTED);
  // Same capture without DEPRECATE_EOF but with cached metadata.
  assert.deepEqual(feed(new TextResultReader(CAPS, MYSQL2_EXT | MARIADB_CLIENT_CACHE_METADATA), [hex('0301'), ...COLUMNS, EOF, ROW, EOF]), EXPECTED);
});

test('metadata skipped by the server leaves column names empty', () => {
  const reply = feed(new TextResultReader(CAPS, MYSQL2_EXT | MARIADB_CLIENT_CACHE_METADATA), [hex('0300'), EOF, ROW, EOF]);
  assert.deepEqual(reply, { ...EXPECTED, columns: ['', '', ''] });
});

test('an OK or an ERR is a whole reply', () => {
  const ok = writeOkPacket({ affectedRows: 1, lastInsertId: 7, statusFlags: 2, warnings: 0, info: '' }, CAPS);
  assert.deepEqual(new TextResultReader(CAPS, MYSQL2_EXT).push(ok), {
    kind: 'ok',
    ok: { affectedRows: 1, lastInsertId: 7, statusFlags: 2, warnings: 0, info: '' },
  });
  const err = writeErrPacket({ code: 1146, sqlState: '42S02', message: "Table 'x.t' doesn't exist" }, CLIENT_PROTOCOL_41);
  assert.deepEqual(new TextResultReader(CAPS, MYSQL2_EXT).push(err), {
    kind: 'error',
    error: { code: 1146, sqlState: '42S02', message: "Table 'x.t' doesn't exist" },
  });
});

test('an ERR among the rows ends the reply with that error', () => {
  const err = writeErrPacket({ code: 1927, sqlState: '70100', message: 'Connection was killed' }, CLIENT_PROTOCOL_41);
  const reply = feed(new TextResultReader(CAPS, MYSQL2_EXT), [hex('03'), ...COLUMNS, EOF, ROW, err]);
  assert.equal(reply.kind, 'error');
});

test('progress reports are skipped only when MARIADB_CLIENT_PROGRESS was negotiated', () => {
  const progress = writeErrPacket({ code: 0xffff, sqlState: 'HY000', message: '' }, 0);
  const ok = writeOkPacket({ affectedRows: 0, lastInsertId: 0, statusFlags: 2, warnings: 0, info: '' }, CAPS);
  const reader = new TextResultReader(CAPS, MYSQL2_EXT | MARIADB_CLIENT_PROGRESS);
  assert.equal(reader.push(progress), null);
  assert.equal(reader.push(ok)?.kind, 'ok');
  assert.equal(new TextResultReader(CAPS, MYSQL2_EXT).push(progress)?.kind, 'error');
});

test('moreResults follows SERVER_MORE_RESULTS_EXISTS', () => {
  const caps = CLIENT_PROTOCOL_41 | CLIENT_TRANSACTIONS | CLIENT_SESSION_TRACK;
  const more = writeOkPacket({ affectedRows: 0, lastInsertId: 0, statusFlags: SERVER_MORE_RESULTS_EXISTS, warnings: 0, info: '' }, caps);
  assert.equal(moreResults(new TextResultReader(caps).push(more)!), true);
  const last = new TextResultReader(CAPS, MYSQL2_EXT);
  assert.equal(moreResults(feed(last, [hex('03'), ...COLUMNS, EOF, ROW, EOF])), false);
});

test('malformed replies fail with ProtocolError', () => {
  assert.throws(() => new TextResultReader(CAPS, MYSQL2_EXT).push(hex('fb')), /LOCAL INFILE/);
  assert.throws(() => new TextResultReader(CAPS, MYSQL2_EXT).push(hex('')), ProtocolError);
  assert.throws(() => new TextResultReader(CAPS, MYSQL2_EXT).push(hex('0300')), /unexpected bytes after the column count/);
  const r = new TextResultReader(CAPS, MYSQL2_EXT);
  r.push(hex('01'));
  for (let n = 0; n < COLUMNS[0]!.length; n++) {
    const fresh = new TextResultReader(CAPS, MYSQL2_EXT);
    fresh.push(hex('01'));
    assert.throws(() => fresh.push(COLUMNS[0]!.subarray(0, n)), ProtocolError, `column definition prefix ${n}`);
  }
  r.push(COLUMNS[0]!);
  assert.throws(() => r.push(ROW), /expected EOF after column definitions/);
  const rows = new TextResultReader(CAPS, MYSQL2_EXT);
  for (const p of [hex('03'), ...COLUMNS, EOF]) rows.push(p);
  for (let n = 1; n < ROW.length; n++) {
    const fresh = new TextResultReader(CAPS, MYSQL2_EXT);
    for (const p of [hex('03'), ...COLUMNS, EOF]) fresh.push(p);
    assert.throws(() => fresh.push(ROW.subarray(0, n)), ProtocolError, `row prefix ${n}`);
  }
  assert.throws(() => rows.push(Buffer.concat([ROW, hex('00')])), /unexpected bytes after 3 columns/);
  const done = new TextResultReader(CAPS, MYSQL2_EXT);
  done.push(writeOkPacket({ affectedRows: 0, lastInsertId: 0, statusFlags: 0, warnings: 0, info: '' }, CAPS));
  assert.throws(() => done.push(EOF), /packet after the reply ended/);
});
