// mysql_native_password: the challenge-response maths, for both the proxy's own check
// of a client and its login to a backend.
// https://mariadb.com/kb/en/connection/#mysql_native_password-plugin
//
//   stage1   = SHA1(password)
//   verifier = SHA1(stage1)                     (what mysql.global_priv stores, as '*HEX')
//   token    = stage1 XOR SHA1(scramble + verifier)
//
// The server knows only the verifier, so from a valid token it can recover stage1, and
// stage1 is enough to answer any other scramble: that is what lets a proxy verify a
// client and then log into a backend without ever seeing the password.
//
// An empty password is "no password": an empty token, stage1 and verifier, as MariaDB
// stores '' (not a hash of '') for an account without one.
import * as crypto from 'node:crypto';
import { createHash, randomFillSync, timingSafeEqual } from 'node:crypto';
import { ProtocolError } from '../protocol-error.js';

export const NATIVE_PASSWORD_PLUGIN = 'mysql_native_password';
export const NATIVE_PASSWORD_HASH_LENGTH = 20;
export const SCRAMBLE_LENGTH = 20;

const EMPTY = Buffer.alloc(0);

// crypto.hash (Node 20.12+, 21.7+) hashes in one call, without a Hash object. Its
// digest is taken as a latin1 ('binary') string and copied into a pooled Buffer: a Buffer
// digest is a native allocation of its own (about 0.3 µs more a hash, and work for
// the GC), paid twice per verified login.
const oneShot = (crypto as { hash?: (alg: string, data: Buffer, enc: 'binary') => string }).hash;

function sha1(...parts: Buffer[]): Buffer {
  if (oneShot) return Buffer.from(oneShot('sha1', parts.length === 1 ? parts[0]! : Buffer.concat(parts), 'binary'), 'latin1');
  const h = createHash('sha1');
  for (const part of parts) h.update(part);
  return h.digest();
}

function toBytes(password: string | Buffer): Buffer {
  return typeof password === 'string' ? Buffer.from(password, 'utf8') : password;
}

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.allocUnsafe(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}

/** SHA1(password); empty for an empty password. */
export function nativePasswordStage1(password: string | Buffer): Buffer {
  const pw = toBytes(password);
  return pw.length === 0 ? EMPTY : sha1(pw);
}

/** SHA1(SHA1(password)), 20 bytes; empty for an empty password (MariaDB's PASSWORD('') is ''). */
export function nativePasswordVerifier(password: string | Buffer): Buffer {
  const stage1 = nativePasswordStage1(password);
  return stage1.length === 0 ? EMPTY : sha1(stage1);
}

/** The client's answer to `scramble`, from stage1 alone. */
export function tokenFromStage1(stage1: Buffer, scramble: Buffer): Buffer {
  if (stage1.length === 0) return EMPTY;
  if (stage1.length !== NATIVE_PASSWORD_HASH_LENGTH) {
    throw new ProtocolError(`mysql_native_password: stage1 hash is ${stage1.length} bytes, expected 20`);
  }
  return xor(stage1, sha1(scramble, sha1(stage1)));
}

export function scrambleNativePassword(password: string | Buffer, scramble: Buffer): Buffer {
  return tokenFromStage1(nativePasswordStage1(password), scramble);
}

/** A client's token checked against a stored verifier once (NativeVerifier.verify). */
export function verifyNativePassword(token: Buffer, scramble: Buffer, verifier: Buffer): Buffer | null {
  return new NativeVerifier(verifier).verify(token, scramble);
}

/**
 * A verifier that remembers the last stage1 it accepted. Every login answers a fresh
 * scramble, so recovering the candidate stage1 takes a hash each time; but a candidate
 * equal to one whose SHA1 already matched needs no second hash (the same user logging
 * in again and again, a pooled proxy's common case). Comparisons stay constant-time.
 */
export class NativeVerifier {
  /** Its own 20 bytes, not a view of a shared pool slab: it lives as long as the verifier. */
  private accepted: Buffer | null = null;

  constructor(readonly hash: Buffer) {}

  /**
   * Checks a client's token to `scramble`. Returns the recovered stage1 (empty for a
   * passwordless account answered with an empty token), or null when the token is wrong
   * or has the wrong length.
   */
  verify(token: Buffer, scramble: Buffer): Buffer | null {
    const { hash } = this;
    if (hash.length === 0) return token.length === 0 ? EMPTY : null;
    if (hash.length !== NATIVE_PASSWORD_HASH_LENGTH || token.length !== NATIVE_PASSWORD_HASH_LENGTH) return null;
    const stage1 = xor(token, sha1(scramble, hash));
    const known = this.accepted;
    if (known !== null && timingSafeEqual(stage1, known)) return stage1;
    if (!timingSafeEqual(sha1(stage1), hash)) return null;
    const own = Buffer.allocUnsafeSlow(NATIVE_PASSWORD_HASH_LENGTH);
    stage1.copy(own);
    this.accepted = own;
    return stage1;
  }
}

/** '*' + 40 uppercase hex digits, as mysql.user and mysql.global_priv show it; '' for no password. */
export function formatNativeVerifier(v: Buffer): string {
  if (v.length === 0) return '';
  if (v.length !== NATIVE_PASSWORD_HASH_LENGTH) {
    throw new ProtocolError(`mysql_native_password: verifier is ${v.length} bytes, expected 20`);
  }
  return `*${v.toString('hex').toUpperCase()}`;
}

/** Inverse of formatNativeVerifier. The input is not echoed in the error: it is a credential. */
export function parseNativeVerifier(s: string): Buffer {
  if (s === '') return EMPTY;
  if (!/^\*[0-9A-Fa-f]{40}$/.test(s)) {
    throw new ProtocolError(
      `mysql_native_password: verifier of ${s.length} characters is not '*' followed by 40 hex digits`,
    );
  }
  return Buffer.from(s.slice(1), 'hex');
}

const DOLLAR = 0x24;

/**
 * 20 random bytes in 1..127, never NUL (clients read the scramble as a C string) nor '$'
 * (MariaDB keeps it out so a scramble never looks like a crypt-style hash prefix).
 * Rejection sampling keeps the accepted values uniform.
 */
// Random bytes are drawn from a pool refilled in bulk: one CSPRNG call per ~200
// connections instead of one per connection (it showed in connection-churn profiles).
const POOL_SIZE = 4096;
const pool = Buffer.allocUnsafe(POOL_SIZE);
let poolOffset = POOL_SIZE;

function nextRandomByte(): number {
  if (poolOffset === POOL_SIZE) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  return pool[poolOffset++]!;
}

export function generateScramble(): Buffer {
  const out = Buffer.allocUnsafe(SCRAMBLE_LENGTH);
  let filled = 0;
  while (filled < SCRAMBLE_LENGTH) {
    const b = nextRandomByte() & 0x7f;
    if (b === 0 || b === DOLLAR) continue;
    out[filled++] = b;
  }
  return out;
}
