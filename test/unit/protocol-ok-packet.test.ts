import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CLIENT_PROTOCOL_41,
  CLIENT_SESSION_TRACK,
  CLIENT_TRANSACTIONS,
  SERVER_SESSION_STATE_CHANGED,
  SERVER_STATUS_AUTOCOMMIT,
  SERVER_STATUS_IN_TRANS,
  SERVER_STATUS_NO_INDEX_USED,
} from '../../protocol/constants.js';
import { isOkPacket, parseOkPacket, writeOkPacket, type OkPacket } from '../../protocol/packets/ok-packet.js';
import { ProtocolError } from '../../protocol/protocol-error.js';

const hex = (s: string): Buffer => Buffer.from(s, 'hex');
/** What the mariadb CLI negotiated in the captures below. */
const CLI_CAPS = 0x00bfa28c;
const CAPS_41 = CLIENT_PROTOCOL_41 | CLIENT_TRANSACTIONS;

// Captured from MariaDB 10.11.
const AFTER_LOGIN_WITH_DB = hex('00000002400000000701050473686f70'); // session tracker: schema "shop"
const UPDATE = hex(
  '0002002200000028526f7773206d6174636865643a203220204368616e6765643a203220205761726e696e67733a2030',
);
const INSERT = hex('00010302000000');

test('parses the OK after a login with a database, keeping the session-state block raw', () => {
  assert.ok(isOkPacket(AFTER_LOGIN_WITH_DB));
  const ok = parseOkPacket(AFTER_LOGIN_WITH_DB, CLI_CAPS);
  assert.deepEqual(ok, {
    affectedRows: 0,
    lastInsertId: 0,
    statusFlags: SERVER_SESSION_STATE_CHANGED | SERVER_STATUS_AUTOCOMMIT,
    warnings: 0,
    info: '',
    sessionState: hex('0701050473686f70'),
  });
  assert.ok(writeOkPacket(ok, CLI_CAPS).equals(AFTER_LOGIN_WITH_DB));
});

test('parses the OK of an UPDATE with its info text', () => {
  const ok = parseOkPacket(UPDATE, CLI_CAPS);
  assert.deepEqual(ok, {
    affectedRows: 2,
    lastInsertId: 0,
    statusFlags: SERVER_STATUS_AUTOCOMMIT | SERVER_STATUS_NO_INDEX_USED,
    warnings: 0,
    info: 'Rows matched: 2  Changed: 2  Warnings: 0',
  });
  assert.ok(writeOkPacket(ok, CLI_CAPS).equals(UPDATE));
  // Servers length-prefix the info even without session tracking.
  assert.deepEqual(parseOkPacket(UPDATE, CAPS_41), ok);
});

test('parses the OK of an INSERT', () => {
  const ok = parseOkPacket(INSERT, CAPS_41);
  assert.deepEqual(ok, { affectedRows: 1, lastInsertId: 3, statusFlags: 2, warnings: 0, info: '' });
  assert.ok(writeOkPacket(ok, CAPS_41).equals(INSERT));
});

test('round-trips large counters, warnings and unicode info', () => {
  const ok: OkPacket = {
    affectedRows: 2 ** 40,
    lastInsertId: Number.MAX_SAFE_INTEGER,
    statusFlags: SERVER_STATUS_IN_TRANS,
    warnings: 3,
    info: '\u00e9'.repeat(200),
  };
  for (const caps of [CAPS_41, CAPS_41 | CLIENT_SESSION_TRACK]) {
    assert.deepEqual(parseOkPacket(writeOkPacket(ok, caps), caps), ok);
  }
});

test('state changed without a block writes an empty one', () => {
  const caps = CAPS_41 | CLIENT_SESSION_TRACK;
  const ok: OkPacket = {
    affectedRows: 0,
    lastInsertId: 0,
    statusFlags: SERVER_SESSION_STATE_CHANGED,
    warnings: 0,
    info: '',
  };
  const bytes = writeOkPacket(ok, caps);
  assert.equal(bytes.toString('hex'), '0000000040000000' + '00');
  assert.deepEqual(parseOkPacket(bytes, caps), { ...ok, sessionState: hex('00') });
});

test('pre-4.1 layouts: status only with CLIENT_TRANSACTIONS, nothing without', () => {
  const ok: OkPacket = { affectedRows: 1, lastInsertId: 0, statusFlags: 2, warnings: 0, info: '' };
  assert.equal(writeOkPacket(ok, CLIENT_TRANSACTIONS).toString('hex'), '0001000200');
  assert.deepEqual(parseOkPacket(hex('0001000200'), CLIENT_TRANSACTIONS), ok);
  assert.deepEqual(parseOkPacket(hex('000100'), 0), { ...ok, statusFlags: 0 });
});

test('accepts the 0xfe header that ends a result set under CLIENT_DEPRECATE_EOF', () => {
  const bytes = Buffer.from(INSERT);
  bytes[0] = 0xfe;
  assert.equal(parseOkPacket(bytes, CAPS_41).lastInsertId, 3);
});

test('isOkPacket needs 0x00 and the 7-byte minimum, so a row starting with an empty string is not an OK', () => {
  assert.equal(isOkPacket(INSERT), true);
  assert.equal(isOkPacket(hex('000131')), false);
  assert.equal(isOkPacket(hex('fe000002000000')), false);
});

test('every truncated prefix of the fixed part and of the info fails with ProtocolError', () => {
  for (const golden of [UPDATE, INSERT, AFTER_LOGIN_WITH_DB]) {
    // The info is optional, so the packet may end right after the warnings (7 bytes here);
    // the session-state block is kept raw, so cuts inside it are tolerated.
    const infoEnd = golden === AFTER_LOGIN_WITH_DB ? 8 : golden.length;
    for (let n = 0; n < infoEnd; n++) {
      if (n === 7) continue;
      assert.throws(() => parseOkPacket(golden.subarray(0, n), CLI_CAPS), ProtocolError, `prefix of ${n} bytes`);
    }
    assert.equal(parseOkPacket(golden.subarray(0, 7), CLI_CAPS).info, '');
  }
});

test('rejects NULL and bad headers', () => {
  assert.throws(() => parseOkPacket(hex('00fb0002000000'), CAPS_41), {
    message: 'OK_Packet: unexpected NULL reading affected rows',
  });
  assert.throws(() => parseOkPacket(hex('ff0102'), CAPS_41), /unexpected header 0xff/);
});
