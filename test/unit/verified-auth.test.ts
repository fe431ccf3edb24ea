import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CLIENT_PLUGIN_AUTH,
  CLIENT_PROTOCOL_41,
  CLIENT_SECURE_CONNECTION,
  UTF8MB4_GENERAL_CI,
} from '../../protocol/constants.js';
import {
  generateScramble,
  nativePasswordStage1,
  nativePasswordVerifier,
  scrambleNativePassword,
} from '../../protocol/auth/native-password.js';
import { parseAuthSwitchRequest } from '../../protocol/packets/auth-switch-request.js';
import type { HandshakeResponse } from '../../protocol/packets/handshake-response.js';
import { nativeAuthSwitchRequest, verifyAuthSwitchResponse, verifyClient } from '../../proxy/verified-auth.js';

const hex = (s: string): Buffer => Buffer.from(s, 'hex');
const SCRAMBLE = hex('2b28247a5d447b6256692c3d317a37407a687b50');

function hello(authResponse: Buffer, authPluginName: string | null = 'mysql_native_password'): HandshakeResponse {
  return {
    capabilities: CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | (authPluginName === null ? 0 : CLIENT_PLUGIN_AUTH),
    maxPacketSize: 1 << 24,
    charset: UTF8MB4_GENERAL_CI,
    mariadbCapabilities: 0,
    user: 'shop.app',
    authResponse,
    database: null,
    authPluginName,
    connectAttributes: null,
  };
}

test('the right password yields the stage1 hash that logs into the compute', () => {
  const verifier = nativePasswordVerifier('app-secret');
  const v = verifyClient(hello(scrambleNativePassword('app-secret', SCRAMBLE)), SCRAMBLE, verifier);
  assert.deepEqual(v, { ok: true, stage1: nativePasswordStage1('app-secret') });
});

test('a wrong password, a wrong scramble or a malformed token is denied', () => {
  const verifier = nativePasswordVerifier('app-secret');
  const denied = { ok: false, switchRequired: false };
  assert.deepEqual(verifyClient(hello(scrambleNativePassword('app-secreT', SCRAMBLE)), SCRAMBLE, verifier), denied);
  assert.deepEqual(verifyClient(hello(scrambleNativePassword('app-secret', generateScramble())), SCRAMBLE, verifier), denied);
  assert.deepEqual(verifyClient(hello(Buffer.alloc(0)), SCRAMBLE, verifier), denied);
  assert.deepEqual(verifyClient(hello(Buffer.alloc(19, 1)), SCRAMBLE, verifier), denied);
  assert.deepEqual(verifyClient(hello(Buffer.alloc(21, 1)), SCRAMBLE, verifier), denied);
});

test('a passwordless account accepts only an empty answer', () => {
  const empty = Buffer.alloc(0);
  assert.deepEqual(verifyClient(hello(empty), SCRAMBLE, empty), { ok: true, stage1: empty });
  assert.deepEqual(verifyClient(hello(scrambleNativePassword('x', SCRAMBLE)), SCRAMBLE, empty), {
    ok: false,
    switchRequired: false,
  });
});

test('a client without CLIENT_PLUGIN_AUTH speaks mysql_native_password', () => {
  const verifier = nativePasswordVerifier('pw');
  const v = verifyClient(hello(scrambleNativePassword('pw', SCRAMBLE), null), SCRAMBLE, verifier);
  assert.equal(v.ok, true);
});

test('another plugin asks for an auth switch to mysql_native_password with the same scramble', () => {
  const verifier = nativePasswordVerifier('pw');
  for (const plugin of ['caching_sha2_password', 'client_ed25519', 'mysql_clear_password', '']) {
    // What such a client sends first is not a native token; it must not be judged as one.
    const v = verifyClient(hello(Buffer.alloc(32, 7), plugin), SCRAMBLE, verifier);
    assert.equal(v.ok, false);
    assert.ok(!v.ok && v.switchRequired, plugin);
    const request = parseAuthSwitchRequest(v.authSwitchRequest);
    assert.equal(request.pluginName, 'mysql_native_password');
    assert.ok(request.pluginData.equals(Buffer.concat([SCRAMBLE, hex('00')])));
  }
  assert.deepEqual(verifyAuthSwitchResponse(scrambleNativePassword('pw', SCRAMBLE), SCRAMBLE, verifier), {
    ok: true,
    stage1: nativePasswordStage1('pw'),
  });
  assert.deepEqual(verifyAuthSwitchResponse(scrambleNativePassword('pW', SCRAMBLE), SCRAMBLE, verifier), {
    ok: false,
    switchRequired: false,
  });
});

test('golden auth switch request, as MariaDB 10.11 sends it', () => {
  // Captured: the compute's switch during COM_CHANGE_USER (same layout the proxy sends).
  const golden = hex('fe6d7973716c5f6e61746976655f70617373776f7264002b28247a5d447b6256692c3d317a37407a687b5000');
  assert.ok(nativeAuthSwitchRequest(SCRAMBLE).equals(golden));
});

test('bad inputs throw with lengths only, never the values', () => {
  const verifier = nativePasswordVerifier('a-very-secret-password');
  const badVerifier = Buffer.concat([verifier, hex('ab')]);
  assert.throws(
    () => verifyClient(hello(Buffer.alloc(20)), SCRAMBLE, badVerifier),
    (err: Error) => /verifier is 21 bytes/.test(err.message) && !err.message.includes(verifier.toString('hex').slice(0, 8)),
  );
  assert.throws(() => verifyClient(hello(Buffer.alloc(20)), SCRAMBLE.subarray(0, 8), verifier), /scramble is 8 bytes/);
  assert.throws(() => verifyAuthSwitchResponse(Buffer.alloc(20), SCRAMBLE, Buffer.alloc(5)), /verifier is 5 bytes/);
});
