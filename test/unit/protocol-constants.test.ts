import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../protocol/constants.js';
import * as protocol from '../../protocol/index.js';

test('capability flags are distinct single bits, all unsigned', () => {
  const names = Object.keys(c).filter((k) => k.startsWith('CLIENT_') && k !== 'CLIENT_LONG_PASSWORD');
  const values = names.map((k) => (c as Record<string, unknown>)[k] as number);
  for (const [i, v] of values.entries()) {
    assert.ok(v > 0 && (v & (v - 1)) === 0, `${names[i]} is one bit`);
  }
  assert.equal(new Set(values).size, values.length);
  assert.equal(c.CLIENT_REMEMBER_OPTIONS, 2 ** 31);
  assert.equal(c.CLIENT_LONG_PASSWORD, c.CLIENT_MYSQL);
});

test('decodes the real MariaDB 10.11 server capabilities', () => {
  const caps = 0x81fff7fe;
  const has = (flag: number): boolean => (caps & flag) !== 0;
  assert.ok(has(c.CLIENT_PROTOCOL_41) && has(c.CLIENT_SECURE_CONNECTION) && has(c.CLIENT_PLUGIN_AUTH));
  assert.ok(has(c.CLIENT_CONNECT_ATTRS) && has(c.CLIENT_SESSION_TRACK) && has(c.CLIENT_DEPRECATE_EOF));
  assert.ok(!has(c.CLIENT_MYSQL) && !has(c.CLIENT_SSL));
  assert.equal((caps & ~c.CLIENT_SSL) >>> 0, caps, '>>> 0 keeps bit 31 unsigned');
});

test('command bytes match the documented values', () => {
  const expected: Record<string, number> = {
    COM_SLEEP: 0, COM_QUIT: 1, COM_INIT_DB: 2, COM_QUERY: 3, COM_PING: 14, COM_CHANGE_USER: 17,
    COM_STMT_PREPARE: 22, COM_STMT_EXECUTE: 23, COM_STMT_SEND_LONG_DATA: 24, COM_STMT_CLOSE: 25,
    COM_STMT_RESET: 26, COM_SET_OPTION: 27, COM_STMT_FETCH: 28, COM_RESET_CONNECTION: 31,
    COM_STMT_BULK_EXECUTE: 250,
  };
  for (const [name, value] of Object.entries(expected)) {
    assert.equal((c as Record<string, unknown>)[name], value, name);
    assert.equal(c.commandName(value), name);
  }
  assert.equal(c.commandName(0x42), 'COM_0x42');
});

test('status flags, headers and charset', () => {
  assert.equal(c.SERVER_STATUS_AUTOCOMMIT, 2);
  assert.equal(c.SERVER_MORE_RESULTS_EXISTS, 8);
  assert.equal(c.SERVER_SESSION_STATE_CHANGED, 0x4000);
  assert.deepEqual(
    [c.OK_HEADER, c.EOF_HEADER, c.ERR_HEADER, c.AUTH_SWITCH_HEADER, c.AUTH_MORE_DATA_HEADER, c.LOCAL_INFILE_HEADER],
    [0x00, 0xfe, 0xff, 0xfe, 0x01, 0xfb],
  );
  assert.equal(c.UTF8MB4_GENERAL_CI, 45);
  assert.deepEqual(
    [
      c.MARIADB_CLIENT_PROGRESS,
      c.MARIADB_CLIENT_COM_MULTI,
      c.MARIADB_CLIENT_STMT_BULK_OPERATIONS,
      c.MARIADB_CLIENT_EXTENDED_TYPE_INFO,
      c.MARIADB_CLIENT_CACHE_METADATA,
    ],
    [1, 2, 4, 8, 16],
  );
});

test('the index re-exports every unit', () => {
  for (const name of [
    'ProtocolError', 'PacketReader', 'PacketWriter', 'framePacket', 'PacketFramer', 'MAX_PAYLOAD_LENGTH',
    'parseGreeting', 'writeGreeting', 'parseHandshakeResponse', 'writeHandshakeResponse', 'isSslRequest',
    'parseSslRequest', 'writeSslRequest', 'isAuthSwitchRequest', 'parseAuthSwitchRequest', 'writeAuthSwitchRequest',
    'isAuthMoreData', 'parseAuthMoreData', 'writeAuthMoreData', 'isOkPacket', 'parseOkPacket', 'writeOkPacket',
    'isErrPacket', 'parseErrPacket', 'writeErrPacket', 'isEofPacket', 'parseEofPacket', 'writeEofPacket',
    'NATIVE_PASSWORD_PLUGIN', 'scrambleNativePassword', 'nativePasswordStage1', 'nativePasswordVerifier',
    'formatNativeVerifier', 'parseNativeVerifier', 'verifyNativePassword', 'tokenFromStage1', 'generateScramble',
    'CLIENT_PROTOCOL_41', 'COM_QUERY', 'SERVER_STATUS_IN_TRANS',
  ]) {
    assert.ok(name in protocol, name);
  }
});
