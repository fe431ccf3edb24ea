import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CLIENT_MYSQL, CLIENT_PROTOCOL_41, CLIENT_SSL } from '../../protocol/constants.js';
import { isSslRequest, parseSslRequest, writeSslRequest, type SslRequest } from '../../protocol/packets/ssl-request.js';
import { ProtocolError } from '../../protocol/protocol-error.js';

// Captured from the `mariadb` 10.11 CLI with --ssl, answering a greeting that offers CLIENT_SSL.
const GOLDEN = Buffer.from('84aabf000000100021000000000000000000000000000000000000001d000000', 'hex');

test('parses the captured SSLRequest', () => {
  assert.ok(isSslRequest(GOLDEN));
  assert.deepEqual(parseSslRequest(GOLDEN), {
    capabilities: 0x00bfaa84,
    maxPacketSize: 0x100000,
    charset: 33,
    mariadbCapabilities: 0x1d,
  });
  assert.ok(writeSslRequest(parseSslRequest(GOLDEN)).equals(GOLDEN));
});

test('round-trips, with MariaDB capabilities only when CLIENT_MYSQL is clear', () => {
  const r: SslRequest = {
    capabilities: (CLIENT_PROTOCOL_41 | CLIENT_SSL | 0x80000000) >>> 0,
    maxPacketSize: 0xffffffff,
    charset: 45,
    mariadbCapabilities: 4,
  };
  assert.deepEqual(parseSslRequest(writeSslRequest(r)), r);
  const mysql = { ...r, capabilities: r.capabilities | CLIENT_MYSQL };
  assert.equal(parseSslRequest(writeSslRequest(mysql)).mariadbCapabilities, 0);
});

test('isSslRequest needs exactly 32 bytes with CLIENT_SSL', () => {
  assert.equal(isSslRequest(GOLDEN.subarray(0, 31)), false);
  assert.equal(isSslRequest(Buffer.concat([GOLDEN, Buffer.from([0])])), false);
  const plain = Buffer.from(GOLDEN);
  plain[1]! &= ~(CLIENT_SSL >> 8);
  assert.equal(isSslRequest(plain), false);
  assert.throws(() => parseSslRequest(plain), { message: 'SSLRequest: CLIENT_SSL is not set' });
});

test('every truncated prefix fails with ProtocolError, and so does a longer packet', () => {
  for (let n = 0; n < GOLDEN.length; n++) {
    assert.throws(() => parseSslRequest(GOLDEN.subarray(0, n)), ProtocolError, `prefix of ${n} bytes`);
  }
  assert.throws(() => parseSslRequest(Buffer.concat([GOLDEN, Buffer.from('app\0')])), /expected 32 bytes, got 36/);
});

test('writeSslRequest insists on CLIENT_SSL', () => {
  const plain: SslRequest = { capabilities: CLIENT_PROTOCOL_41, maxPacketSize: 0, charset: 45, mariadbCapabilities: 0 };
  assert.throws(() => writeSslRequest(plain), ProtocolError);
});
