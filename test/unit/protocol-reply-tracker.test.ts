// ReplyTracker against replies built from the packet writers and bytes captured from
// MariaDB 10.11, fed whole, split at every byte, and one byte at a time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CLIENT_DEPRECATE_EOF,
  CLIENT_PROTOCOL_41,
  CLIENT_SESSION_TRACK,
  MARIADB_CLIENT_CACHE_METADATA,
  MARIADB_CLIENT_PROGRESS,
  SERVER_MORE_RESULTS_EXISTS,
  SERVER_SESSION_STATE_CHANGED,
  SERVER_STATUS_AUTOCOMMIT,
  SERVER_STATUS_IN_TRANS,
} from '../../protocol/constants.js';
import { framePacket, MAX_PAYLOAD_LENGTH } from '../../protocol/framing.js';
import { writeErrPacket } from '../../protocol/packets/err-packet.js';
import { writeEofPacket } from '../../protocol/packets/eof-packet.js';
import { writeOkPacket } from '../../protocol/packets/ok-packet.js';
import { ReplyTracker, type ReplyEnd } from '../../protocol/reply-tracker.js';
import { ProtocolError } from '../../protocol/protocol-error.js';

const P41 = CLIENT_PROTOCOL_41;
const hex = (s: string): Buffer => Buffer.from(s, 'hex');
// Captured from MariaDB 10.11 (SELECT 1 AS a).
const COLUMN = hex('03646566000000016100000c3f0001000000038100000000');

function ok(status: number, caps = P41, header = 0x00): Buffer {
  const p = writeOkPacket({ affectedRows: 300, lastInsertId: 70_000, statusFlags: status, warnings: 0, info: '' }, caps);
  p[0] = header;
  return p;
}
const err = () => writeErrPacket({ code: 1064, sqlState: '42000', message: 'You have an error' }, P41);
const eof = (status: number) => writeEofPacket({ warnings: 0, statusFlags: status });

/** Frames payloads with sequence ids from 1, as a reply to a command. */
function reply(...payloads: Buffer[]): Buffer {
  return Buffer.concat(payloads.map((p, i) => framePacket(p, (i + 1) & 0xff)));
}

function resultSet(rows: number, status: number, deprecateEof: boolean): Buffer[] {
  const out = [hex('01'), COLUMN];
  if (!deprecateEof) out.push(eof(status));
  for (let i = 0; i < rows; i++) out.push(hex('0131'));
  out.push(deprecateEof ? ok(status, P41 | CLIENT_DEPRECATE_EOF, 0xfe) : eof(status));
  return out;
}

function run(bytes: Buffer, replies: number, caps = P41, mcaps = 0, split: (b: Buffer) => Buffer[] = (b) => [b]) {
  const ends: ReplyEnd[] = [];
  const t = new ReplyTracker(caps, mcaps, SERVER_STATUS_AUTOCOMMIT, (e) => ends.push(e));
  for (let i = 0; i < replies; i++) t.expect();
  for (const piece of split(bytes)) t.push(piece);
  return { t, ends };
}

/** Every way of cutting the stream in two, and byte by byte: the outcome never changes. */
function everySplit(bytes: Buffer, replies: number, caps = P41, mcaps = 0): ReplyEnd[] {
  const whole = run(bytes, replies, caps, mcaps).ends;
  for (let cut = 1; cut < bytes.length; cut++) {
    const { ends } = run(bytes, replies, caps, mcaps, (b) => [b.subarray(0, cut), b.subarray(cut)]);
    assert.deepEqual(ends, whole, `cut at ${cut}`);
  }
  const bytewise = run(bytes, replies, caps, mcaps, (b) => [...b].map((x) => Buffer.from([x]))).ends;
  assert.deepEqual(bytewise, whole);
  return whole;
}

test('an OK ends a reply with its status; an ERR keeps the status seen before', () => {
  const ends = everySplit(Buffer.concat([reply(ok(SERVER_STATUS_IN_TRANS | SERVER_STATUS_AUTOCOMMIT)), reply(err())]), 2);
  assert.deepEqual(ends, [
    { statusFlags: SERVER_STATUS_IN_TRANS | SERVER_STATUS_AUTOCOMMIT, stateChanged: false, failed: false },
    { statusFlags: SERVER_STATUS_IN_TRANS | SERVER_STATUS_AUTOCOMMIT, stateChanged: false, failed: true },
  ]);
});

test('result sets end at their EOF, or at the 0xfe OK under CLIENT_DEPRECATE_EOF', () => {
  for (const deprecateEof of [false, true]) {
    const caps = deprecateEof ? P41 | CLIENT_DEPRECATE_EOF : P41;
    const ends = everySplit(reply(...resultSet(3, SERVER_STATUS_IN_TRANS, deprecateEof)), 1, caps);
    assert.deepEqual(ends, [{ statusFlags: SERVER_STATUS_IN_TRANS, stateChanged: false, failed: false }]);
  }
});

test('SERVER_MORE_RESULTS_EXISTS chains results into one reply; state changes are reported', () => {
  const caps = P41 | CLIENT_DEPRECATE_EOF | CLIENT_SESSION_TRACK;
  const bytes = reply(
    ok(SERVER_STATUS_AUTOCOMMIT | SERVER_MORE_RESULTS_EXISTS | SERVER_SESSION_STATE_CHANGED, caps),
    ...resultSet(2, SERVER_STATUS_AUTOCOMMIT | SERVER_MORE_RESULTS_EXISTS, true),
    ok(SERVER_STATUS_AUTOCOMMIT, caps),
  );
  const ends = everySplit(bytes, 1, caps);
  assert.deepEqual(ends, [{ statusFlags: SERVER_STATUS_AUTOCOMMIT, stateChanged: true, failed: false }]);
});

test('an ERR inside the rows ends the reply', () => {
  const bytes = reply(hex('01'), COLUMN, eof(2), hex('0131'), err());
  assert.deepEqual(everySplit(bytes, 1), [{ statusFlags: SERVER_STATUS_AUTOCOMMIT, stateChanged: false, failed: true }]);
});

test('rows that start like a terminator are rows: a 0xfe row of 9+ bytes, a 0x00 row, a NULL row', () => {
  const bigLenenc = Buffer.concat([hex('fe'), Buffer.alloc(8), Buffer.from('x')]); // 0xfe lenenc prefix, not EOF
  const bytes = reply(hex('01'), COLUMN, eof(2), bigLenenc, hex('00'), hex('fb'), eof(2));
  assert.equal(everySplit(bytes, 1).length, 1);
});

test('a LOCAL INFILE request waits for the client file, then the OK ends the reply', () => {
  const ends: ReplyEnd[] = [];
  const t = new ReplyTracker(P41, 0, SERVER_STATUS_AUTOCOMMIT, (e) => ends.push(e));
  t.expect();
  t.push(framePacket(Buffer.concat([hex('fb'), Buffer.from('/tmp/f.csv')]), 1));
  assert.equal(t.awaitingInfile, true);
  assert.equal(ends.length, 0);
  t.infileSent();
  t.push(framePacket(ok(SERVER_STATUS_AUTOCOMMIT), 4));
  assert.equal(t.awaitingInfile, false);
  assert.equal(ends.length, 1);
  assert.equal(t.pending, 0);
});

test('MariaDB progress reports are not the end; cached metadata skips column definitions', () => {
  const progress = Buffer.concat([hex('ffffff'), hex('01'), hex('01'), hex('00000000'), hex('00')]);
  const withProgress = reply(progress, ok(2));
  assert.equal(everySplit(withProgress, 1, P41, MARIADB_CLIENT_PROGRESS).length, 1);
  // Without the capability the same bytes are an error reply.
  assert.equal(run(withProgress, 2).ends[0]!.failed, true);

  const noMetadata = reply(hex('0100'), eof(2), hex('0131'), eof(2));
  assert.equal(everySplit(noMetadata, 1, P41, MARIADB_CLIENT_CACHE_METADATA).length, 1);
});

test('a 16 MiB row split over continuation fragments is skipped without copying', () => {
  const big = Buffer.alloc(MAX_PAYLOAD_LENGTH + 10, 0x61);
  big[0] = 0xfe; // would be EOF-like if the tracker looked at a continuation
  const bytes = reply(hex('01'), COLUMN, eof(2), big, eof(SERVER_STATUS_IN_TRANS));
  const { ends } = run(bytes, 1, P41, 0, (b) => {
    const pieces: Buffer[] = [];
    for (let i = 0; i < b.length; i += 65_536) pieces.push(b.subarray(i, i + 65_536));
    return pieces;
  });
  assert.deepEqual(ends, [{ statusFlags: SERVER_STATUS_IN_TRANS, stateChanged: false, failed: false }]);
});

test('bytes no command asked for, or nonsense, are a ProtocolError', () => {
  assert.throws(() => run(reply(ok(2)), 0), ProtocolError);
  assert.throws(() => run(reply(ok(2), ok(2)), 1), ProtocolError);
  assert.throws(() => run(reply(hex('00')), 1), ProtocolError, 'OK too short for its status');
  assert.throws(() => run(reply(hex('01'), COLUMN, hex('0131')), 1), ProtocolError, 'no EOF after columns');
});

test("a chunk's memory may be reused once pushed: the head of a packet still arriving is the tracker's own", () => {
  // An OK with an info string: its status is in the first bytes, its end further on.
  const okWithInfo = writeOkPacket(
    { affectedRows: 1, lastInsertId: 0, statusFlags: SERVER_STATUS_IN_TRANS, warnings: 0, info: 'Rows matched: 1  Changed: 1  Warnings: 0' },
    P41,
  );
  const bytes = reply(okWithInfo);
  for (let cut = 4 + 21; cut < bytes.length; cut++) {
    const ends: ReplyEnd[] = [];
    const t = new ReplyTracker(P41, 0, SERVER_STATUS_AUTOCOMMIT, (e) => ends.push(e));
    t.expect();
    const first = Buffer.from(bytes.subarray(0, cut));
    t.push(first);
    first.fill(0); // as a reused read buffer would be
    t.push(Buffer.from(bytes.subarray(cut)));
    assert.deepEqual(ends, [{ statusFlags: SERVER_STATUS_IN_TRANS, stateChanged: false, failed: false }], `cut at ${cut}`);
  }
});

test('a column definition continued past 16 MiB still counts as one column', () => {
  const big = Buffer.alloc(MAX_PAYLOAD_LENGTH + 3, 0x20);
  big[0] = 0x03;
  const bytes = reply(hex('02'), big, COLUMN, eof(2), hex('01310132'), eof(SERVER_STATUS_IN_TRANS));
  const { ends } = run(bytes, 1, P41, 0, (b) => [b.subarray(0, 100), b.subarray(100, MAX_PAYLOAD_LENGTH + 9), b.subarray(MAX_PAYLOAD_LENGTH + 9)]);
  assert.deepEqual(ends, [{ statusFlags: SERVER_STATUS_IN_TRANS, stateChanged: false, failed: false }]);
});

test('reset: one tracker serves connection after connection, whatever state the last one left it in', () => {
  const rows = reply(...resultSet(3, SERVER_STATUS_AUTOCOMMIT, false));
  const ends: ReplyEnd[] = [];
  const t = new ReplyTracker(P41, 0, SERVER_STATUS_IN_TRANS, (e) => ends.push(e));
  // Left mid-row, with a rows-only reply and a LOCAL INFILE still expected.
  t.expect();
  t.expectRows();
  t.push(rows.subarray(0, rows.length - 6));
  t.reset(P41 | CLIENT_DEPRECATE_EOF, 0, SERVER_STATUS_AUTOCOMMIT);
  assert.equal(t.pending, 0);
  assert.equal(t.awaitingInfile, false);
  // The next connection negotiated CLIENT_DEPRECATE_EOF: its result set ends at the 0xfe OK.
  t.expect();
  t.push(reply(...resultSet(2, SERVER_STATUS_AUTOCOMMIT | SERVER_STATUS_IN_TRANS, true)));
  assert.deepEqual(ends, [{ statusFlags: SERVER_STATUS_AUTOCOMMIT | SERVER_STATUS_IN_TRANS, stateChanged: false, failed: false }]);
  // And an ERR first keeps the status it was reset to.
  t.reset(P41, 0, SERVER_STATUS_AUTOCOMMIT);
  t.expect();
  t.push(reply(err()));
  assert.deepEqual(ends[1], { statusFlags: SERVER_STATUS_AUTOCOMMIT, stateChanged: false, failed: true });
  assert.throws(() => t.push(reply(ok(SERVER_STATUS_AUTOCOMMIT))), ProtocolError);
});
