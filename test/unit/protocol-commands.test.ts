import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CLIENT_CONNECT_ATTRS,
  CLIENT_PLUGIN_AUTH,
  CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA,
  CLIENT_PROTOCOL_41,
  CLIENT_SECURE_CONNECTION,
  COM_INIT_DB,
  COM_PING,
  COM_QUERY,
  COM_QUIT,
  COM_RESET_CONNECTION,
  UTF8MB4_GENERAL_CI,
} from '../../protocol/constants.js';
import { parseComChangeUser, writeComChangeUser, type ComChangeUser } from '../../protocol/commands/com-change-user.js';
import { parseComInitDb, writeComInitDb } from '../../protocol/commands/com-init-db.js';
import { parseComQuery, writeComQuery } from '../../protocol/commands/com-query.js';
import {
  commandOf,
  parseSimpleCommand,
  writeComPing,
  writeComQuit,
  writeComResetConnection,
} from '../../protocol/commands/simple-commands.js';
import { ProtocolError } from '../../protocol/protocol-error.js';

const hex = (s: string): Buffer => Buffer.from(s, 'hex');

// Captured from mysql2 3.24.6 against MariaDB 10.11: conn.changeUser({ user: 'app', database: 'mysql' }).
const MYSQL2_CAPS = 0x08baf3ce;
const MYSQL2_CHANGE_USER = hex(
  '116170700014f22071c996faf2e4e80e6bf913fd4254fbd58ad76d7973716c00e0006d7973716c5f6e61746976655f70617373776f72640000',
);

const FULL_CAPS = CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH | CLIENT_CONNECT_ATTRS;

const SAMPLE: ComChangeUser = {
  user: 'app',
  authResponse: Buffer.alloc(20, 0x5a),
  database: 'shop',
  charset: UTF8MB4_GENERAL_CI,
  authPluginName: 'mysql_native_password',
  connectAttributes: [
    ['_client_name', 'wake-proxy'],
    ['program_name', 'tést'],
  ],
};

function assertEveryPrefixFails(payload: Buffer, parse: (b: Buffer) => unknown): void {
  for (let n = 0; n < payload.length; n++) {
    assert.throws(() => parse(payload.subarray(0, n)), ProtocolError, `prefix of ${n} bytes`);
  }
}

test('parses and rewrites the COM_CHANGE_USER that mysql2 sends', () => {
  const p = parseComChangeUser(MYSQL2_CHANGE_USER, MYSQL2_CAPS);
  assert.deepEqual(p, {
    user: 'app',
    authResponse: hex('f22071c996faf2e4e80e6bf913fd4254fbd58ad7'),
    database: 'mysql',
    charset: 224,
    authPluginName: 'mysql_native_password',
    connectAttributes: [],
  });
  assert.ok(writeComChangeUser(p, MYSQL2_CAPS).equals(MYSQL2_CHANGE_USER));
});

test('COM_CHANGE_USER: the auth response has one length byte even with CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA', () => {
  const caps = FULL_CAPS | CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA;
  const payload = writeComChangeUser(SAMPLE, caps);
  assert.equal(payload[0], 0x11);
  assert.equal(payload[5], 20); // after 0x11 'app' NUL
  assert.deepEqual(parseComChangeUser(payload, caps), SAMPLE);
});

test('COM_CHANGE_USER round-trips with each optional field on and off', () => {
  const variants: Array<[number, ComChangeUser]> = [
    [FULL_CAPS, SAMPLE],
    [CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION, { ...SAMPLE, authPluginName: null, connectAttributes: null }],
    [CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH, { ...SAMPLE, connectAttributes: null }],
    [FULL_CAPS, { ...SAMPLE, authResponse: Buffer.alloc(0), database: '' }],
    // Without CLIENT_SECURE_CONNECTION the response is a C string (old clients).
    [CLIENT_PROTOCOL_41, { ...SAMPLE, authResponse: Buffer.from('abc'), authPluginName: null, connectAttributes: null }],
  ];
  for (const [caps, p] of variants) {
    const payload = writeComChangeUser(p, caps);
    assert.deepEqual(parseComChangeUser(payload, caps), p, `caps 0x${caps.toString(16)}`);
    assertEveryPrefixFails(payload, (b) => parseComChangeUser(b, caps));
  }
});

test('COM_CHANGE_USER: every truncated prefix of the mysql2 packet fails cleanly', () => {
  assertEveryPrefixFails(MYSQL2_CHANGE_USER, (b) => parseComChangeUser(b, MYSQL2_CAPS));
});

test('COM_CHANGE_USER rejects trailing bytes, the wrong command and unwritable values', () => {
  assert.throws(() => parseComChangeUser(Buffer.concat([MYSQL2_CHANGE_USER, hex('00')]), MYSQL2_CAPS), /unexpected bytes/);
  assert.throws(() => parseComChangeUser(hex('03'), MYSQL2_CAPS), /unexpected command 0x3/);
  assert.throws(
    () => writeComChangeUser({ ...SAMPLE, authResponse: Buffer.alloc(256) }, FULL_CAPS),
    /256 bytes does not fit its length byte/,
  );
  assert.throws(() => writeComChangeUser({ ...SAMPLE, user: 'a\0b' }, FULL_CAPS), ProtocolError);
});

test('COM_CHANGE_USER: an attribute value running past its block fails', () => {
  const broken = Buffer.from(writeComChangeUser(SAMPLE, FULL_CAPS));
  // The length byte of the last value, made one too long: the packet length still fits.
  const lengthAt = broken.indexOf(Buffer.from('program_name')) + 'program_name'.length;
  broken[lengthAt] = broken[lengthAt]! + 1;
  assert.throws(() => parseComChangeUser(broken, FULL_CAPS), /truncated reading value of connection attribute "program_name"/);
});

test('one-byte commands: golden bytes and strict parsing', () => {
  assert.deepEqual([...writeComQuit()], [COM_QUIT]);
  assert.deepEqual([...writeComPing()], [COM_PING]);
  assert.deepEqual([...writeComResetConnection()], [COM_RESET_CONNECTION]);
  parseSimpleCommand(hex('01'), COM_QUIT);
  parseSimpleCommand(hex('1f'), COM_RESET_CONNECTION);
  assert.throws(() => parseSimpleCommand(hex(''), COM_QUIT), /COM_QUIT: truncated reading command/);
  assert.throws(() => parseSimpleCommand(hex('0100'), COM_QUIT), /1 unexpected bytes/);
  assert.throws(() => parseSimpleCommand(hex('0e'), COM_QUIT), /unexpected command 0xe/);
  assert.equal(commandOf(hex('03')), COM_QUERY);
  assert.equal(commandOf(hex('')), undefined);
});

test('COM_QUERY: golden bytes, UTF-8 measured in bytes, round trip', () => {
  // Captured from mysql2: conn.query("SELECT 1 AS a, NULL AS b, 'x' AS c").
  const golden = hex('0353454c454354203120415320612c204e554c4c20415320622c202778272041532063');
  assert.ok(writeComQuery("SELECT 1 AS a, NULL AS b, 'x' AS c").equals(golden));
  assert.equal(parseComQuery(golden), "SELECT 1 AS a, NULL AS b, 'x' AS c");
  const utf8 = writeComQuery("SELECT 'żółw'");
  assert.equal(utf8.length, 1 + Buffer.byteLength("SELECT 'żółw'"));
  assert.equal(parseComQuery(utf8), "SELECT 'żółw'");
  assert.equal(parseComQuery(hex('03')), '');
  assert.throws(() => parseComQuery(hex('')), ProtocolError);
  assert.throws(() => parseComQuery(hex('02')), /unexpected command 0x2/);
});

test('COM_INIT_DB: golden bytes, truncation and empty names', () => {
  const golden = hex('0273686f70');
  assert.ok(writeComInitDb('shop').equals(golden));
  assert.equal(parseComInitDb(golden), 'shop');
  assert.equal(golden[0], COM_INIT_DB);
  assertEveryPrefixFails(golden.subarray(0, 2), parseComInitDb);
  assert.throws(() => parseComInitDb(hex('02')), /truncated reading schema name/);
  assert.throws(() => writeComInitDb(''), /empty schema name/);
});
