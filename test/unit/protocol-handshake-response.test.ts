import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CLIENT_CONNECT_ATTRS,
  CLIENT_CONNECT_WITH_DB,
  CLIENT_MYSQL,
  CLIENT_PLUGIN_AUTH,
  CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA,
  CLIENT_PROTOCOL_41,
  CLIENT_SECURE_CONNECTION,
  CLIENT_SSL,
  MARIADB_CLIENT_EXTENDED_TYPE_INFO,
  UTF8MB4_GENERAL_CI,
} from '../../protocol/constants.js';
import {
  connectAttributeBlock,
  parseHandshakeResponse,
  writeHandshakeResponse,
  writeHandshakeResponseAs,
  type HandshakeResponse,
} from '../../protocol/packets/handshake-response.js';
import { ProtocolError } from '../../protocol/protocol-error.js';

const hex = (s: string): Buffer => Buffer.from(s, 'hex');

/** A parsed response's fields as a plain object (its attributes are read through an accessor). */
const fields = (r: HandshakeResponse): HandshakeResponse => ({ ...r, connectAttributes: r.connectAttributes });

// Captured from the `mariadb` 10.11 CLI (libmariadb 3.3.20): `mariadb -u app -psecret shop`.
const MARIADB_CLI = hex(
  '8ca2bf000000100021000000000000000000000000000000000000001d000000617070001444665e272594b0162fb21c607e6f5d25d3e7' +
    '4a2373686f70006d7973716c5f6e61746976655f70617373776f7264007e035f6f73054c696e75780c5f636c69656e745f6e616d650a6c' +
    '69626d617269616462045f70696404353636330f5f636c69656e745f76657273696f6e06332e332e3230095f706c6174666f726d06783836' +
    '5f36340c70726f6772616d5f6e616d65056d7973716c0c5f7365727665725f686f7374093132372e302e302e31',
);
// Captured from mysql2 3.24.6 with database 'shop'.
const MYSQL2 = hex(
  'cef3ba0800000000e000000000000000000000000000000000000000080000006170700014a4990a92d302f4dc2f11e0a758a663c9ee6672' +
    '1473686f70006d7973716c5f6e61746976655f70617373776f726400310c5f636c69656e745f6e616d650c4e6f64652d4d7953514c2d32' +
    '0f5f636c69656e745f76657273696f6e06332e32342e36',
);
// The CLI with --default-auth=client_ed25519 and no database: empty auth data, no CLIENT_CONNECT_WITH_DB.
const MARIADB_CLI_ED25519 = hex(
  '84a2bf000000100021000000000000000000000000000000000000001d0000006170700000636c69656e745f65643235353139007e035f6f' +
    '73054c696e75780c5f636c69656e745f6e616d650a6c69626d617269616462045f70696404353636340f5f636c69656e745f76657273696f' +
    '6e06332e332e3230095f706c6174666f726d067838365f36340c70726f6772616d5f6e616d65056d7973716c0c5f7365727665725f686f73' +
    '74093132372e302e302e31',
);

function assertEveryPrefixFails(payload: Buffer): void {
  for (let n = 0; n < payload.length; n++) {
    assert.throws(() => parseHandshakeResponse(payload.subarray(0, n)), ProtocolError, `prefix of ${n} bytes`);
  }
}

const BASE: HandshakeResponse = {
  capabilities: CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION,
  maxPacketSize: 0x1000000,
  charset: UTF8MB4_GENERAL_CI,
  mariadbCapabilities: 0,
  user: 'app',
  authResponse: Buffer.alloc(20, 0x41),
  database: null,
  authPluginName: null,
  connectAttributes: null,
};

test('parses the mariadb CLI handshake response', () => {
  assert.deepEqual(fields(parseHandshakeResponse(MARIADB_CLI)), {
    capabilities: 0x00bfa28c,
    maxPacketSize: 0x100000,
    charset: 33,
    mariadbCapabilities: 0x1d,
    user: 'app',
    authResponse: hex('44665e272594b0162fb21c607e6f5d25d3e74a23'),
    database: 'shop',
    authPluginName: 'mysql_native_password',
    connectAttributes: [
      ['_os', 'Linux'],
      ['_client_name', 'libmariadb'],
      ['_pid', '5663'],
      ['_client_version', '3.3.20'],
      ['_platform', 'x86_64'],
      ['program_name', 'mysql'],
      ['_server_host', '127.0.0.1'],
    ],
  });
});

test('parses the mysql2 handshake response', () => {
  const r = parseHandshakeResponse(MYSQL2);
  assert.equal(r.capabilities, 0x08baf3ce);
  assert.equal(r.maxPacketSize, 0);
  assert.equal(r.charset, 224);
  assert.equal(r.mariadbCapabilities, MARIADB_CLIENT_EXTENDED_TYPE_INFO, 'CLIENT_MYSQL is clear, so the filler counts');
  assert.equal(r.user, 'app');
  assert.equal(r.authResponse.toString('hex'), 'a4990a92d302f4dc2f11e0a758a663c9ee667214');
  assert.equal(r.database, 'shop');
  assert.equal(r.authPluginName, 'mysql_native_password');
  assert.deepEqual(r.connectAttributes, [
    ['_client_name', 'Node-MySQL-2'],
    ['_client_version', '3.24.6'],
  ]);
});

test('parses a response with empty auth data and no database', () => {
  const r = parseHandshakeResponse(MARIADB_CLI_ED25519);
  assert.equal(r.authResponse.length, 0);
  assert.equal(r.database, null);
  assert.equal(r.authPluginName, 'client_ed25519');
});

test('writes the captured responses back byte for byte', () => {
  for (const golden of [MARIADB_CLI, MYSQL2, MARIADB_CLI_ED25519]) {
    assert.ok(writeHandshakeResponse(parseHandshakeResponse(golden)).equals(golden));
  }
});

test('every truncated prefix of the captured responses fails with ProtocolError', () => {
  assertEveryPrefixFails(MARIADB_CLI);
  assertEveryPrefixFails(MYSQL2);
  assertEveryPrefixFails(MARIADB_CLI_ED25519);
});

test('CLIENT_SECURE_CONNECTION: 1-byte auth length', () => {
  const bytes = writeHandshakeResponse(BASE);
  assert.equal(bytes.length, 32 + 4 + 1 + 20);
  assert.equal(bytes[36], 20);
  assert.deepEqual(fields(parseHandshakeResponse(bytes)), BASE);
  assertEveryPrefixFails(bytes);
});

test('CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA allows auth data over 255 bytes', () => {
  const r: HandshakeResponse = {
    ...BASE,
    capabilities: BASE.capabilities | CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA,
    authResponse: Buffer.alloc(300, 7),
  };
  assert.deepEqual(fields(parseHandshakeResponse(writeHandshakeResponse(r))), r);
  assert.throws(() => writeHandshakeResponse({ ...BASE, authResponse: Buffer.alloc(300) }), ProtocolError);
});

test('old clients: NUL-terminated auth data', () => {
  const r: HandshakeResponse = {
    ...BASE,
    capabilities: CLIENT_PROTOCOL_41,
    authResponse: Buffer.from('0123456789abcdef', 'latin1'),
  };
  const bytes = writeHandshakeResponse(r);
  assert.equal(bytes[bytes.length - 1], 0);
  assert.deepEqual(fields(parseHandshakeResponse(bytes)), r);
  assertEveryPrefixFails(bytes);
});

test('optional fields appear exactly when their flags are set', () => {
  const r: HandshakeResponse = {
    ...BASE,
    capabilities: BASE.capabilities | CLIENT_CONNECT_WITH_DB | CLIENT_PLUGIN_AUTH | CLIENT_CONNECT_ATTRS,
    user: 'shop.\u00e9l\u00e8ve',
    database: 'caf\u00e9/orders',
    authPluginName: 'mysql_native_password',
    connectAttributes: [['k', 'v'], ['', ''], ['k', '\u20ac'.repeat(100)]],
  };
  assert.deepEqual(fields(parseHandshakeResponse(writeHandshakeResponse(r))), r);
  assertEveryPrefixFails(writeHandshakeResponse(r));

  const withoutFlags = writeHandshakeResponse({ ...r, capabilities: BASE.capabilities });
  assert.deepEqual(fields(parseHandshakeResponse(withoutFlags)), { ...r, ...BASE, user: r.user });
});

test('a set flag with a null value writes an empty field', () => {
  const r: HandshakeResponse = {
    ...BASE,
    capabilities: BASE.capabilities | CLIENT_CONNECT_WITH_DB | CLIENT_CONNECT_ATTRS,
  };
  const parsed = parseHandshakeResponse(writeHandshakeResponse(r));
  assert.equal(parsed.database, '');
  assert.deepEqual(parsed.connectAttributes, []);
});

test('CLIENT_PLUGIN_AUTH without a plugin name is accepted, as MariaDB does, with the flag cleared', () => {
  const caps = BASE.capabilities | CLIENT_CONNECT_WITH_DB | CLIENT_PLUGIN_AUTH;
  const full = writeHandshakeResponse({ ...BASE, capabilities: caps, database: 'shop', authPluginName: 'x' });
  const lying = full.subarray(0, full.length - 2);
  const r = parseHandshakeResponse(lying);
  assert.equal(r.authPluginName, null);
  assert.equal(r.database, 'shop');
  assert.equal(r.capabilities, (caps & ~CLIENT_PLUGIN_AUTH) >>> 0);
  assert.ok(writeHandshakeResponse(r).subarray(4).equals(lying.subarray(4)), 'only the flag differs');
});

test('MariaDB capabilities are written only when CLIENT_MYSQL is clear', () => {
  const mariadb = writeHandshakeResponse({ ...BASE, mariadbCapabilities: 0x1d });
  assert.equal(mariadb.readUInt32LE(28), 0x1d);
  const mysql = writeHandshakeResponse({
    ...BASE,
    capabilities: BASE.capabilities | CLIENT_MYSQL,
    mariadbCapabilities: 0x1d,
  });
  assert.equal(mysql.readUInt32LE(28), 0);
  assert.equal(parseHandshakeResponse(mysql).mariadbCapabilities, 0);
});

test('the top capability bit survives as an unsigned number', () => {
  const r = { ...BASE, capabilities: (BASE.capabilities | 0x80000000) >>> 0 };
  assert.equal(parseHandshakeResponse(writeHandshakeResponse(r)).capabilities, r.capabilities);
});

test('rejects pre-4.1 clients', () => {
  const old = Buffer.from(MARIADB_CLI);
  old[1]! &= ~(CLIENT_PROTOCOL_41 >> 8);
  assert.throws(() => parseHandshakeResponse(old), {
    name: 'ProtocolError',
    message: 'HandshakeResponse41: client does not speak protocol 4.1 (HandshakeResponse320 is not supported)',
  });
  assert.throws(() => writeHandshakeResponse({ ...BASE, capabilities: CLIENT_SECURE_CONNECTION }), ProtocolError);
});

test('an SSLRequest is not a complete handshake response', () => {
  const ssl = MARIADB_CLI.subarray(0, 32);
  ssl.writeUInt32LE((ssl.readUInt32LE(0) | CLIENT_SSL) >>> 0, 0);
  assert.throws(() => parseHandshakeResponse(Buffer.from(ssl)), { message: /truncated reading user/ });
});

test('bad connection attributes fail with ProtocolError', () => {
  const r: HandshakeResponse = {
    ...BASE,
    capabilities: BASE.capabilities | CLIENT_CONNECT_ATTRS,
    connectAttributes: [['key', 'value']],
  };
  const bytes = Buffer.from(writeHandshakeResponse(r));
  bytes[bytes.length - 6] = 9; // the value's length now runs past the attribute block
  assert.throws(() => parseHandshakeResponse(bytes), { message: /connection attribute "key"/ });
});

test('a parsed response passed on with changes keeps its attributes as sent, or the ones set since', () => {
  for (const golden of [MARIADB_CLI, MYSQL2, MARIADB_CLI_ED25519]) {
    const hello = parseHandshakeResponse(golden);
    assert.ok(writeHandshakeResponseAs(hello, {}).equals(golden), 'unchanged: the same bytes');
    const changes = { user: 'app', database: 'orders', authResponse: Buffer.alloc(20, 7), capabilities: hello.capabilities | CLIENT_CONNECT_WITH_DB };
    const decoded = { ...fields(parseHandshakeResponse(golden)), ...changes };
    assert.ok(writeHandshakeResponseAs(parseHandshakeResponse(golden), changes).equals(writeHandshakeResponse(decoded)));
    const replaced = parseHandshakeResponse(golden);
    replaced.connectAttributes = [['_client_name', 'someone else']];
    assert.deepEqual(parseHandshakeResponse(writeHandshakeResponseAs(replaced, {})).connectAttributes, [['_client_name', 'someone else']]);
  }
});

test("a parsed response's attribute block, written as given, is the same bytes as its decoded pairs; none once replaced", () => {
  for (const golden of [MARIADB_CLI, MYSQL2, MARIADB_CLI_ED25519]) {
    const hello = parseHandshakeResponse(golden);
    const block = connectAttributeBlock(hello);
    assert.ok(block, 'a block as sent');
    const login = { ...fields(parseHandshakeResponse(golden)), user: 'app', database: 'orders', capabilities: hello.capabilities | CLIENT_CONNECT_WITH_DB };
    assert.ok(writeHandshakeResponse({ ...login, connectAttributes: [] }, block).equals(writeHandshakeResponse(login)));
    hello.connectAttributes = [['_client_name', 'someone else']];
    assert.equal(connectAttributeBlock(hello), null);
  }
  assert.equal(connectAttributeBlock(fields(parseHandshakeResponse(MYSQL2))), null, 'not a parsed response');
});
