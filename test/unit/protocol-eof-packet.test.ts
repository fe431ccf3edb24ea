import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SERVER_MORE_RESULTS_EXISTS, SERVER_STATUS_AUTOCOMMIT } from '../../protocol/constants.js';
import { isEofPacket, parseEofPacket, writeEofPacket } from '../../protocol/packets/eof-packet.js';
import { ProtocolError } from '../../protocol/protocol-error.js';

// Captured from MariaDB 10.11 after the columns of `select 1` (autocommit on).
const GOLDEN = Buffer.from('fe00000200', 'hex');

test('parses and rewrites the captured EOF', () => {
  assert.ok(isEofPacket(GOLDEN));
  assert.deepEqual(parseEofPacket(GOLDEN), { warnings: 0, statusFlags: SERVER_STATUS_AUTOCOMMIT });
  assert.ok(writeEofPacket(parseEofPacket(GOLDEN)).equals(GOLDEN));
});

test('round-trips warnings and status', () => {
  const p = { warnings: 65535, statusFlags: SERVER_STATUS_AUTOCOMMIT | SERVER_MORE_RESULTS_EXISTS };
  assert.deepEqual(parseEofPacket(writeEofPacket(p)), p);
});

test('isEofPacket tells an EOF from a 0xfe-led row or OK by length', () => {
  assert.equal(isEofPacket(Buffer.from([0xfe])), true);
  assert.equal(isEofPacket(Buffer.alloc(8, 0xfe)), true);
  assert.equal(isEofPacket(Buffer.alloc(9, 0xfe)), false);
  assert.equal(isEofPacket(Buffer.from('0000000200', 'hex')), false);
  assert.equal(isEofPacket(Buffer.alloc(0)), false);
});

test('every truncated prefix fails with ProtocolError', () => {
  for (let n = 0; n < GOLDEN.length; n++) {
    assert.throws(() => parseEofPacket(GOLDEN.subarray(0, n)), ProtocolError, `prefix of ${n} bytes`);
  }
  assert.throws(() => parseEofPacket(Buffer.from('0000000200', 'hex')), /EOF_Packet: unexpected header 0x0/);
});
