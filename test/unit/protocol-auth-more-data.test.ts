import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isAuthMoreData, parseAuthMoreData, writeAuthMoreData } from '../../protocol/packets/auth-more-data.js';
import { ProtocolError } from '../../protocol/protocol-error.js';

test('round-trips plugin data after the 0x01 header', () => {
  // caching_sha2_password's "fast auth succeeded" is 0x01 0x03.
  const fastAuthOk = writeAuthMoreData(Buffer.from([0x03]));
  assert.equal(fastAuthOk.toString('hex'), '0103');
  assert.ok(isAuthMoreData(fastAuthOk));
  assert.deepEqual([...parseAuthMoreData(fastAuthOk)], [0x03]);

  const pem = Buffer.from('-----BEGIN PUBLIC KEY-----\n...\n-----END PUBLIC KEY-----\n');
  assert.ok(parseAuthMoreData(writeAuthMoreData(pem)).equals(pem));
  assert.equal(parseAuthMoreData(writeAuthMoreData(Buffer.alloc(0))).length, 0);
});

test('the empty payload and other headers are rejected', () => {
  assert.equal(isAuthMoreData(Buffer.alloc(0)), false);
  assert.equal(isAuthMoreData(Buffer.from([0xfe])), false);
  assert.throws(() => parseAuthMoreData(Buffer.alloc(0)), {
    name: 'ProtocolError',
    message: 'AuthMoreData: truncated reading header',
  });
  assert.throws(() => parseAuthMoreData(Buffer.from([0x00, 0x03])), ProtocolError);
});
