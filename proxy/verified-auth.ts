// Proxy-verified authentication: the proxy checks the client's mysql_native_password
// answer to the proxy's own scramble against the verifier the control plane keeps (the
// double SHA-1 that MariaDB stores), before any wake, and recovers stage1 = SHA1(password)
// to log into the compute itself (backend/login.ts).
// https://mariadb.com/kb/en/connection/#mysql_native_password-plugin
//
// Pure functions: no I/O, nothing thrown that could carry a secret. The comparison is
// constant-time (verifyNativePassword compares hashes with timingSafeEqual).
import {
  NATIVE_PASSWORD_HASH_LENGTH,
  NATIVE_PASSWORD_PLUGIN,
  SCRAMBLE_LENGTH,
  verifyNativePassword,
  writeAuthSwitchRequest,
  type HandshakeResponse,
} from '../protocol/index.js';

export type ClientVerification =
  /** The answer is right; stage1 logs into the compute (empty for a passwordless account). */
  | { ok: true; stage1: Buffer }
  /** Wrong password (or a malformed answer): answer 1045, wake nothing. */
  | { ok: false; switchRequired: false }
  /**
   * The client answered with another plugin (caching_sha2_password, client_ed25519, ...).
   * Send `authSwitchRequest` (mysql_native_password, same scramble) and check the reply
   * with verifyAuthSwitchResponse.
   */
  | { ok: false; switchRequired: true; authSwitchRequest: Buffer };

export type SwitchVerification = { ok: true; stage1: Buffer } | { ok: false; switchRequired: false };

const DENIED = { ok: false, switchRequired: false } as const;
const NUL = Buffer.alloc(1);

/**
 * Checks the HandshakeResponse41's auth response. A client without CLIENT_PLUGIN_AUTH
 * (authPluginName null) speaks mysql_native_password by definition.
 */
export function verifyClient(hello: HandshakeResponse, scramble: Buffer, verifier: Buffer): ClientVerification {
  checkInputs(scramble, verifier);
  if (hello.authPluginName !== null && hello.authPluginName !== NATIVE_PASSWORD_PLUGIN) {
    return { ok: false, switchRequired: true, authSwitchRequest: nativeAuthSwitchRequest(scramble) };
  }
  return check(hello.authResponse, scramble, verifier);
}

/** Checks the client's reply to the auth switch that verifyClient asked for. */
export function verifyAuthSwitchResponse(answer: Buffer, scramble: Buffer, verifier: Buffer): SwitchVerification {
  checkInputs(scramble, verifier);
  return check(answer, scramble, verifier);
}

/** AuthSwitchRequest payload: mysql_native_password with `scramble`, NUL-terminated as MariaDB sends it. */
export function nativeAuthSwitchRequest(scramble: Buffer): Buffer {
  return writeAuthSwitchRequest({ pluginName: NATIVE_PASSWORD_PLUGIN, pluginData: Buffer.concat([scramble, NUL]) });
}

function check(token: Buffer, scramble: Buffer, verifier: Buffer): SwitchVerification {
  const stage1 = verifyNativePassword(token, scramble, verifier);
  return stage1 ? { ok: true, stage1 } : DENIED;
}

/** Programming errors, reported by length only: the values are credentials. */
function checkInputs(scramble: Buffer, verifier: Buffer): void {
  if (scramble.length !== SCRAMBLE_LENGTH) {
    throw new Error(`verified-auth: scramble is ${scramble.length} bytes, expected ${SCRAMBLE_LENGTH}`);
  }
  if (verifier.length !== 0 && verifier.length !== NATIVE_PASSWORD_HASH_LENGTH) {
    throw new Error(
      `verified-auth: verifier is ${verifier.length} bytes, expected 0 or ${NATIVE_PASSWORD_HASH_LENGTH}`,
    );
  }
}
