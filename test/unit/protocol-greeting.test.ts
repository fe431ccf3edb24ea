import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CLIENT_MYSQL,
  CLIENT_PLUGIN_AUTH,
  CLIENT_PROTOCOL_41,
  CLIENT_SECURE_CONNECTION,
  MARIADB_CLIENT_CACHE_METADATA,
  MARIADB_CLIENT_EXTENDED_TYPE_INFO,
  MARIADB_CLIENT_PROGRESS,
  MARIADB_CLIENT_STMT_BULK_OPERATIONS,
  UTF8MB4_GENERAL_CI,
} from '../../protocol/constants.js';
import { GreetingTemplate, parseGreeting, writeGreeting, type Greeting } from '../../protocol/packets/greeting.js';
import { generateScramble } from '../../protocol/auth/native-password.js';
import { ProtocolError } from '../../protocol/protocol-error.js';

// Captured from MariaDB 10.11 (Debian 12 package), after the 4-byte header.
const GOLDEN = Buffer.from(
  '0a352e352e352d31302e31312e31392d4d6172696144422d302b646562313275310003000000476239323038692900fef7080200ff81' +
    '150000000000001d0000002f50276d7276797b22327576006d7973716c5f6e61746976655f70617373776f726400',
  'hex',
);
// The same server, another connection: a different scramble and connection id.
const GOLDEN_2 = Buffer.from(
  '0a352e352e352d31302e31312e31392d4d6172696144422d302b6465623132753100090000004a3462733a66753a00fef7080200ff81' +
    '150000000000001d0000005f525a4d55412842545d577c006d7973716c5f6e61746976655f70617373776f726400',
  'hex',
);

function assertEveryPrefixFails(payload: Buffer, parse: (b: Buffer) => unknown): void {
  for (let n = 0; n < payload.length; n++) {
    assert.throws(() => parse(payload.subarray(0, n)), ProtocolError, `prefix of ${n} bytes`);
  }
}

test('parses the real MariaDB 10.11 greeting', () => {
  const g = parseGreeting(GOLDEN);
  assert.deepEqual(g, {
    protocolVersion: 10,
    serverVersion: '5.5.5-10.11.19-MariaDB-0+deb12u1',
    connectionId: 3,
    scramble: Buffer.from('47623932303869292f50276d7276797b22327576', 'hex'),
    capabilities: 0x81fff7fe,
    mariadbCapabilities:
      MARIADB_CLIENT_PROGRESS |
      MARIADB_CLIENT_STMT_BULK_OPERATIONS |
      MARIADB_CLIENT_EXTENDED_TYPE_INFO |
      MARIADB_CLIENT_CACHE_METADATA,
    charset: 8,
    statusFlags: 2,
    authPluginName: 'mysql_native_password',
  });
  assert.equal(g.scramble.length, 20);
  assert.equal(g.capabilities & CLIENT_MYSQL, 0);
});

test('writes the real greetings back byte for byte', () => {
  assert.ok(writeGreeting(parseGreeting(GOLDEN)).equals(GOLDEN));
  assert.ok(writeGreeting(parseGreeting(GOLDEN_2)).equals(GOLDEN_2));
});

test('the parsed scramble does not alias the payload', () => {
  const copy = Buffer.from(GOLDEN);
  const g = parseGreeting(copy);
  copy.fill(0);
  assert.equal(g.scramble.toString('hex'), '47623932303869292f50276d7276797b22327576');
});

test('round-trips a proxy-made greeting', () => {
  const g: Greeting = {
    protocolVersion: 10,
    serverVersion: '5.5.5-11.4.0-wake-proxy',
    connectionId: 0xfffffffe,
    scramble: generateScramble(),
    capabilities: 0x81fff7fe,
    mariadbCapabilities: MARIADB_CLIENT_STMT_BULK_OPERATIONS,
    charset: UTF8MB4_GENERAL_CI,
    statusFlags: 2,
    authPluginName: 'mysql_native_password',
  };
  assert.deepEqual(parseGreeting(writeGreeting(g)), g);
});

test('a MySQL-style greeting (CLIENT_MYSQL set) carries no MariaDB capabilities', () => {
  const g = { ...parseGreeting(GOLDEN), capabilities: (0x81fff7fe | CLIENT_MYSQL) >>> 0 };
  const bytes = writeGreeting(g);
  const filler = bytes.subarray(bytes.length - 13 - 22 - 4, bytes.length - 13 - 22);
  assert.equal(filler.toString('hex'), '00000000');
  assert.equal(parseGreeting(bytes).mariadbCapabilities, 0);
});

test('without CLIENT_PLUGIN_AUTH there is no plugin name and auth data length is 0', () => {
  const g: Greeting = {
    ...parseGreeting(GOLDEN),
    capabilities: CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION,
    authPluginName: '',
  };
  const bytes = writeGreeting(g);
  assert.equal(bytes[bytes.length - 1], 0, 'ends with the scramble NUL');
  assert.deepEqual(parseGreeting(bytes), g);
  assert.equal(g.capabilities & CLIENT_PLUGIN_AUTH, 0);
});

test('every truncated prefix fails with ProtocolError', () => {
  assertEveryPrefixFails(GOLDEN, parseGreeting);
});

test('rejects other protocol versions', () => {
  const v9 = Buffer.from(GOLDEN);
  v9[0] = 9;
  assert.throws(() => parseGreeting(v9), {
    name: 'ProtocolError',
    message: 'HandshakeV10: unsupported protocol version 9',
  });
});

test('corrupted greetings fail only with ProtocolError', () => {
  let seed = 7;
  const rand = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  for (let i = 0; i < 2000; i++) {
    const bytes = Buffer.from(GOLDEN);
    for (let k = 0; k < 3; k++) bytes[Math.floor(rand() * bytes.length)] = Math.floor(rand() * 256);
    try {
      parseGreeting(bytes);
    } catch (err) {
      assert.ok(err instanceof ProtocolError, String(err));
    }
  }
});

test('refuses to write a scramble it cannot represent', () => {
  const g = parseGreeting(GOLDEN);
  assert.throws(() => writeGreeting({ ...g, scramble: Buffer.alloc(4, 1) }), ProtocolError);
  assert.throws(() => writeGreeting({ ...g, scramble: Buffer.alloc(300, 1) }), ProtocolError);
});

test('a template writes each connection the greeting writeGreeting would, byte for byte', () => {
  const golden = parseGreeting(GOLDEN);
  const other = parseGreeting(GOLDEN_2);
  const template = new GreetingTemplate({ ...golden, serverVersion: '5.5.5-10.11.0-MariaDB-wäke-proxy', connectionId: 7, scramble: Buffer.alloc(20) });
  for (const g of [golden, other, { ...golden, connectionId: 0xfffffffe, scramble: generateScramble() }]) {
    const want = writeGreeting({ ...g, serverVersion: '5.5.5-10.11.0-MariaDB-wäke-proxy' });
    assert.ok(template.write(g.connectionId, g.scramble).equals(want), `connection ${g.connectionId}`);
  }
  // The golden greeting itself, from a template of its own.
  assert.ok(new GreetingTemplate({ ...golden, scramble: Buffer.alloc(20) }).write(golden.connectionId, golden.scramble).equals(GOLDEN));
  assert.throws(() => template.write(1, Buffer.alloc(8)), ProtocolError);
  assert.throws(() => new GreetingTemplate({ ...golden, capabilities: golden.capabilities & ~CLIENT_SECURE_CONNECTION, scramble: Buffer.alloc(8) }), ProtocolError);
});
