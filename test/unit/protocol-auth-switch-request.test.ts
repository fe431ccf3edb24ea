import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  isAuthSwitchRequest,
  parseAuthSwitchRequest,
  writeAuthSwitchRequest,
} from '../../protocol/packets/auth-switch-request.js';
import { NATIVE_PASSWORD_PLUGIN } from '../../protocol/auth/native-password.js';
import { ProtocolError } from '../../protocol/protocol-error.js';

// Captured from MariaDB 10.11 when a client started with client_ed25519 for a
// mysql_native_password account: the 20-byte scramble followed by a NUL.
const GOLDEN = Buffer.from(
  'fe6d7973716c5f6e61746976655f70617373776f726400' + '4e444c304a653c3c5724487e64586e423d48367200',
  'hex',
);

test('parses the captured auth switch, keeping the scramble bytes verbatim', () => {
  assert.ok(isAuthSwitchRequest(GOLDEN));
  const r = parseAuthSwitchRequest(GOLDEN);
  assert.equal(r.pluginName, NATIVE_PASSWORD_PLUGIN);
  assert.equal(r.pluginData.toString('hex'), '4e444c304a653c3c5724487e64586e423d48367200');
  assert.ok(writeAuthSwitchRequest(r).equals(GOLDEN));
});

test('round-trips any plugin name and data', () => {
  for (const r of [
    { pluginName: 'client_ed25519', pluginData: Buffer.alloc(32, 9) },
    { pluginName: 'dialog', pluginData: Buffer.alloc(0) },
    { pluginName: '', pluginData: Buffer.from([0, 0xfe, 0]) },
  ]) {
    assert.deepEqual(parseAuthSwitchRequest(writeAuthSwitchRequest(r)), r);
  }
});

test('every truncated prefix up to the plugin name NUL fails with ProtocolError', () => {
  const nameEnd = GOLDEN.indexOf(0);
  for (let n = 0; n <= nameEnd; n++) {
    assert.throws(() => parseAuthSwitchRequest(GOLDEN.subarray(0, n)), ProtocolError, `prefix of ${n} bytes`);
  }
  // After the NUL the rest is opaque plugin data, so a shorter packet is a different, valid one.
  for (let n = nameEnd + 1; n < GOLDEN.length; n++) {
    assert.equal(parseAuthSwitchRequest(GOLDEN.subarray(0, n)).pluginData.length, n - nameEnd - 1);
  }
});

test('the bare 0xfe old-password switch is rejected with a clear message', () => {
  assert.throws(() => parseAuthSwitchRequest(Buffer.from([0xfe])), {
    name: 'ProtocolError',
    message: 'AuthSwitchRequest: old-password switch request (bare 0xfe) is not supported',
  });
});

test('other headers are not auth switches', () => {
  assert.equal(isAuthSwitchRequest(Buffer.from([0x00, 0, 0, 2, 0, 0, 0])), false);
  assert.equal(isAuthSwitchRequest(Buffer.alloc(0)), false);
  assert.throws(() => parseAuthSwitchRequest(Buffer.from('006100', 'hex')), /unexpected header 0x0/);
});

test('a plugin name with a NUL cannot be written', () => {
  assert.throws(() => writeAuthSwitchRequest({ pluginName: 'a\0b', pluginData: Buffer.alloc(0) }), ProtocolError);
});
