// Names in a handshake's character set, read as MariaDB 10.11 reads them (each expected
// value is what the server answered to the same bytes: the account it matched, or the
// name its error gave), and written back so that they read the same again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  InvalidDatabaseNameError,
  ProtocolError,
  RefusedClientCharsetError,
  UnreadableNameError,
  handshakeNameBytes,
  hasUnreadableUtf8,
  messageBytes,
  parseHandshakeResponse,
  readHandshakeName,
  readMessage,
  refusedClientCharset,
  writeHandshakeResponse,
  CLIENT_CONNECT_WITH_DB,
  CLIENT_PLUGIN_AUTH,
  CLIENT_PROTOCOL_41,
  CLIENT_SECURE_CONNECTION,
} from '../../protocol/index.js';

const UTF8MB4 = 45;
const UTF8MB3 = 33;
const LATIN1 = 8;
const BINARY = 63;
const GBK = 28;
const hex = (h: string) => Buffer.from(h, 'hex');
const read = (h: string, collation: number, user = true) => readHandshakeName(hex(h), 0, hex(h).length, collation, 'user name', user);

test('utf8mb4 and utf8mb3: valid names as they are, each byte that starts no sequence one ?', () => {
  assert.equal(read('c3bc', UTF8MB4), 'ü');
  assert.equal(read('e794a8e688b7', UTF8MB4), '用户');
  assert.equal(read('fc', UTF8MB4), '?');
  assert.equal(read('e4b8', UTF8MB4), '??'); // a truncated sequence: one ? a byte, not one for the whole
  assert.equal(read('e4b841', UTF8MB4), '??A');
  assert.equal(read('c0ae', UTF8MB4), '??'); // overlong
  assert.equal(read('f09f9880', UTF8MB3), '????'); // no 4-byte forms in utf8mb3
  assert.throws(() => read('eda080', UTF8MB4), UnreadableNameError); // a surrogate: refused
});

test('a user name beyond the BMP is one ? (the server keeps user names in utf8mb3); a database name is not changed', () => {
  assert.equal(read('61f09f9880', UTF8MB4), 'a?');
  assert.equal(read('61f09f9880', UTF8MB4, false), 'a😀');
});

test("latin1 is MariaDB's (cp1252 with its holes kept), binary a byte per code point, other character sets ASCII only", () => {
  assert.equal(read('fc', LATIN1), 'ü');
  assert.equal(read('80', LATIN1), '€');
  assert.equal(read('8178', LATIN1), '\u0081x');
  assert.equal(read('c3bc', LATIN1), 'Ã¼');
  assert.equal(read('fc', BINARY), 'ü');
  assert.equal(read('617070', GBK), 'app');
  assert.throws(() => read('fc', GBK), /not ASCII in character set #28/);
});

test('names written back in their character set read the same', () => {
  for (const [name, collation] of [['ü€\u0081x', LATIN1], ['ü', BINARY], ['用户', UTF8MB4], ['app', GBK]] as const) {
    const bytes = handshakeNameBytes(name, collation);
    assert.equal(readHandshakeName(bytes, 0, bytes.length, collation, 'user name'), name);
  }
  assert.deepEqual(handshakeNameBytes('€ü', LATIN1), hex('80fc'));
  assert.throws(() => handshakeNameBytes('用', LATIN1), UnreadableNameError);
  assert.throws(() => handshakeNameBytes('ü', GBK), UnreadableNameError);
});

test("messages in the client's character set: latin1 with ? for what it cannot hold, else UTF-8", () => {
  assert.deepEqual(messageBytes("user 'ü€'", LATIN1), Buffer.from("user '\xfc\x80'", 'latin1'));
  assert.deepEqual(messageBytes('x😀ł', LATIN1), Buffer.from('x??'));
  assert.deepEqual(messageBytes('ü', UTF8MB4), Buffer.from('ü'));
  assert.equal(readMessage(hex('fc80'), 0, 2, LATIN1), 'ü€');
  assert.equal(readMessage(Buffer.from('ü'), 0, 2, UTF8MB4), 'ü');
});

test('HandshakeResponse41: names read in its collation; a database the server cannot read is refused (its 1300)', () => {
  const caps = CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH | CLIENT_CONNECT_WITH_DB;
  const hello = (charset: number, user: string, database: string) =>
    writeHandshakeResponse({ capabilities: caps, maxPacketSize: 1 << 24, charset, mariadbCapabilities: 0, user, authResponse: Buffer.alloc(0), database, authPluginName: 'mysql_native_password', connectAttributes: null });
  const latin1 = hello(LATIN1, 'ü', 'dü');
  assert.ok(latin1.includes(hex('fc00')), 'written in latin1');
  const parsed = parseHandshakeResponse(latin1);
  assert.deepEqual([parsed.user, parsed.database], ['ü', 'dü']);
  const bad = Buffer.from(hello(UTF8MB4, 'app', 'dX'));
  bad[bad.indexOf(Buffer.from('dX')) + 1] = 0xfc;
  assert.throws(() => parseHandshakeResponse(bad), (err: unknown) => err instanceof InvalidDatabaseNameError && err.charset === 'utf8mb4' && err.bytes.equals(hex('64fc')));
  assert.equal(hasUnreadableUtf8(hex('64fc'), 0, 2, LATIN1), false);
});

test("ucs2, utf16, utf16le, utf32: refused once the 32-byte prefix is read, whatever follows (the server's 1231)", () => {
  const caps = CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH | CLIENT_CONNECT_WITH_DB;
  const hello = (charset: number) =>
    writeHandshakeResponse({ capabilities: caps, maxPacketSize: 1 << 24, charset, mariadbCapabilities: 0, user: 'app', authResponse: Buffer.alloc(0), database: 'd', authPluginName: 'mysql_native_password', connectAttributes: null });
  const refused = (charset: string) => (err: unknown) => err instanceof RefusedClientCharsetError && err.charset === charset;
  for (const [id, charset] of [[35, 'ucs2'], [159, 'ucs2'], [54, 'utf16'], [124, 'utf16'], [56, 'utf16le'], [62, 'utf16le'], [60, 'utf32'], [183, 'utf32']] as const) {
    assert.equal(refusedClientCharset(id), charset);
    assert.throws(() => parseHandshakeResponse(hello(id)), refused(charset), `#${id}`);
    // The names and the rest are never read: 32 bytes are enough, and garbage after them changes nothing.
    assert.throws(() => parseHandshakeResponse(hello(id).subarray(0, 32)), refused(charset), `#${id}, the prefix alone`);
    assert.throws(() => parseHandshakeResponse(Buffer.concat([hello(id).subarray(0, 32), hex('fcfc')])), refused(charset), `#${id}, no NUL`);
    // Shorter than the prefix: malformed (the server's bare Bad handshake), not this.
    assert.throws(() => parseHandshakeResponse(hello(id).subarray(0, 31)), (err: unknown) => err instanceof ProtocolError && !(err instanceof RefusedClientCharsetError));
  }
  for (const id of [0, 8, 28, 33, 45, 63, 125, 184, 255]) assert.equal(refusedClientCharset(id), null, `#${id}`);
  assert.equal(parseHandshakeResponse(hello(UTF8MB4)).user, 'app');
});
