// The user and database names of a HandshakeResponse41 travel in the character set
// its collation byte names, and MariaDB converts them to utf8 before it looks anything
// up (sql_acl.cc, parse_client_handshake_packet): a latin1 client's 0xFC is the user
// 'ü', a utf8mb4 client's lone 0xFC is the user '?' (each byte the conversion cannot
// read becomes one '?'). These read a name as the server does, and write one back in
// the same character set, so a name the proxy passes on reaches the compute as the
// client meant it.
//
// Read: utf8mb4 and utf8mb3 (invalid bytes become '?'), latin1 (MariaDB's, which is
// cp1252 with its five holes kept), binary (a byte is its code point). ucs2, utf16,
// utf16le and utf32: no client may use them (refusedClientCharset). Any other
// character set: ASCII names only; the proxy does not guess what other bytes mean.
import { ProtocolError } from './protocol-error.js';

/** A name the proxy cannot read as the server would: refused, never guessed. */
export class UnreadableNameError extends ProtocolError {
  override readonly name = 'UnreadableNameError';
}

type NameCharset = 'utf8mb4' | 'utf8mb3' | 'latin1' | 'binary' | ParserRefused | 'other';
type ParserRefused = 'ucs2' | 'utf16' | 'utf16le' | 'utf32';

// Collation ids below 256 (a handshake has one byte), as MariaDB 10.11 numbers them.
const CHARSETS: NameCharset[] = new Array<NameCharset>(256).fill('other');
for (const id of [45, 46, ...range(224, 247)]) CHARSETS[id] = 'utf8mb4';
for (const id of [33, 83, ...range(192, 215), 223]) CHARSETS[id] = 'utf8mb3';
for (const id of [5, 8, 15, 31, 47, 48, 49, 94]) CHARSETS[id] = 'latin1';
CHARSETS[63] = 'binary';
for (const id of [35, 90, ...range(128, 151), 159]) CHARSETS[id] = 'ucs2';
for (const id of [54, 55, ...range(101, 124)]) CHARSETS[id] = 'utf16';
for (const id of [56, 62]) CHARSETS[id] = 'utf16le';
for (const id of [60, 61, ...range(160, 183)]) CHARSETS[id] = 'utf32';

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/**
 * A handshake in a character set MariaDB's parser cannot read (ucs2, utf16, utf16le,
 * utf32) is refused before anything else in it is read: the server's 1231 naming the
 * character set, whatever the user, password and database (sql_connect.cc,
 * thd_init_client_charset). A server started with --skip-character-set-client-handshake
 * would take it in its own character set instead; the proxy assumes the default, as it
 * does for the names it reads.
 */
export class RefusedClientCharsetError extends ProtocolError {
  override readonly name = 'RefusedClientCharsetError';
  constructor(readonly charset: ParserRefused) {
    super(`a client may not use character set ${charset}`);
  }
}

/** The character set of `collation` when the server refuses it to a client (RefusedClientCharsetError), else null. */
export function refusedClientCharset(collation: number): ParserRefused | null {
  const charset = CHARSETS[collation];
  return charset === 'ucs2' || charset === 'utf16' || charset === 'utf16le' || charset === 'utf32' ? charset : null;
}

/** MariaDB's latin1 from 0x80 to 0x9F (cp1252; 0x81, 0x8D, 0x8F, 0x90, 0x9D map to themselves). */
const LATIN1_HIGH = [
  0x20ac, 0x81, 0x201a, 0x192, 0x201e, 0x2026, 0x2020, 0x2021, 0x2c6, 0x2030, 0x160, 0x2039, 0x152, 0x8d, 0x17d, 0x8f,
  0x90, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x2dc, 0x2122, 0x161, 0x203a, 0x153, 0x9d, 0x17e, 0x178,
];
const LATIN1_BYTE = new Map(LATIN1_HIGH.map((cp, i) => [cp, 0x80 + i]));

/**
 * The name in `buf[start, end)` as the server reads it under collation `collation`.
 * `what` names the field for the error a name the proxy cannot read gets. A user name
 * (`systemCharset`) ends in the server's utf8mb3, where a character beyond the BMP
 * is one '?' (a utf8mb4 client's 'a😀' logs in as the account 'a?').
 */
export function readHandshakeName(buf: Buffer, start: number, end: number, collation: number, what: string, systemCharset = false): string {
  // Nearly every name is ASCII, the same in every character set a client may use: one
  // native decode tells (a string as long as its bytes, no U+FFFD, had no byte over 0x7F).
  const fast = buf.toString('utf8', start, end);
  if (fast.length === end - start && !fast.includes('\ufffd')) return fast;
  const charset = CHARSETS[collation]!;
  switch (charset) {
    case 'binary':
      return buf.toString('latin1', start, end);
    case 'latin1': {
      let out = '';
      for (let i = start; i < end; i++) {
        const b = buf[i]!;
        out += String.fromCharCode(b >= 0x80 && b < 0xa0 ? LATIN1_HIGH[b - 0x80]! : b);
      }
      return out;
    }
    case 'utf8mb4':
    case 'utf8mb3': {
      const name = readUtf8(buf, start, end, charset === 'utf8mb4', what);
      return systemCharset && charset === 'utf8mb4' ? name.replace(/[\ud800-\udbff][\udc00-\udfff]/g, '?') : name;
    }
    default:
      throw new UnreadableNameError(`the ${what} is not ASCII in character set #${collation}, which wake-proxy does not read`);
  }
}

/** True when a name of `collation` had bytes the server turns into '?' (a database name is refused then: 1300). */
export function hasUnreadableUtf8(buf: Buffer, start: number, end: number, collation: number): boolean {
  const charset = CHARSETS[collation];
  if (charset !== 'utf8mb4' && charset !== 'utf8mb3') return false;
  let i = start;
  while (i < end && buf[i]! < 0x80) i++;
  while (i < end) {
    const n = utf8Length(buf, i, end, charset === 'utf8mb4');
    if (n <= 0) return true;
    i += n;
  }
  return false;
}

/** `name` as bytes of `collation`'s character set: what readHandshakeName reads back as `name`. */
export function handshakeNameBytes(name: string, collation: number): Buffer {
  const charset = CHARSETS[collation]!;
  if (charset === 'utf8mb4' || charset === 'utf8mb3') return Buffer.from(name, 'utf8');
  let out: Buffer | null = null;
  for (let i = 0; i < name.length; i++) {
    const cp = name.charCodeAt(i);
    if (cp < 0x80) continue;
    out ??= Buffer.from(name, 'latin1');
    const byte = charset === 'binary' ? (cp <= 0xff ? cp : -1) : charset === 'latin1' ? latin1Byte(cp) : -1;
    if (byte < 0) throw new UnreadableNameError(`a name cannot be written in character set #${collation}`);
    out[i] = byte;
  }
  return out ?? Buffer.from(name, 'latin1');
}

function latin1Byte(cp: number): number {
  if (cp >= 0xa0 && cp <= 0xff) return cp;
  return LATIN1_BYTE.get(cp) ?? -1;
}

/**
 * UTF-8 as MariaDB's conversion reads it: a byte that starts no valid sequence (a
 * stray continuation, an overlong form, a truncated tail, a 4-byte form in utf8mb3)
 * becomes '?' and the next byte is read afresh. A surrogate, which MariaDB's utf8
 * accepts but no JavaScript string can carry through, is refused.
 */
function readUtf8(buf: Buffer, start: number, end: number, mb4: boolean, what: string): string {
  let out = '';
  for (let i = start; i < end; ) {
    const n = utf8Length(buf, i, end, mb4);
    if (n <= 0) {
      out += '?';
      i++;
      continue;
    }
    if (n === 3 && buf[i] === 0xed && buf[i + 1]! >= 0xa0) throw new UnreadableNameError(`the ${what} holds a UTF-16 surrogate`);
    out += buf.toString('utf8', i, i + n);
    i += n;
  }
  return out;
}

/** The length of the valid sequence at `i`, or 0 for a byte that starts none (MariaDB's my_mb_wc_utf8mb4). */
function utf8Length(buf: Buffer, i: number, end: number, mb4: boolean): number {
  const c = buf[i]!;
  const cont = (k: number) => i + k < end && (buf[i + k]! & 0xc0) === 0x80;
  if (c < 0x80) return 1;
  if (c < 0xc2) return 0;
  if (c < 0xe0) return cont(1) ? 2 : 0;
  if (c < 0xf0) return cont(1) && cont(2) && (c >= 0xe1 || buf[i + 1]! >= 0xa0) ? 3 : 0;
  if (!mb4 || c > 0xf4) return 0;
  return cont(1) && cont(2) && cont(3) && (c >= 0xf1 || buf[i + 1]! >= 0x90) && (c <= 0xf3 || buf[i + 1]! <= 0x8f) ? 4 : 0;
}

/** A database name with bytes its character set cannot read: the server answers 1300 before judging the login. */
export class InvalidDatabaseNameError extends ProtocolError {
  override readonly name = 'InvalidDatabaseNameError';
  constructor(
    collation: number,
    readonly bytes: Buffer,
  ) {
    super(`the database name is not valid ${CHARSETS[collation]}`);
    this.charset = CHARSETS[collation] as 'utf8mb4' | 'utf8mb3';
  }
  readonly charset: 'utf8mb4' | 'utf8mb3';
}

/**
 * An error message as the server sends it to a client of `collation`: converted to
 * that character set (a latin1 client gets 0xFC for 'ü'), with '?' for what it cannot
 * hold. binary and character sets the proxy does not read get UTF-8 as it is.
 */
export function messageBytes(text: string, collation: number): Buffer {
  if (CHARSETS[collation] !== 'latin1') return Buffer.from(text, 'utf8');
  // A character beyond the BMP is one '?', as the server writes it.
  const chars = /[\ud800-\udfff]/.test(text) ? text.replace(/[\ud800-\udbff][\udc00-\udfff]|[\ud800-\udfff]/g, '?') : text;
  const out = Buffer.from(chars, 'latin1');
  for (let i = 0; i < chars.length; i++) {
    const cp = chars.charCodeAt(i);
    if (cp >= 0x80) out[i] = latin1Byte(cp) < 0 ? 0x3f : latin1Byte(cp);
  }
  return out;
}

/** An error message a server sent to a client of `collation` (see messageBytes). */
export function readMessage(buf: Buffer, start: number, end: number, collation: number): string {
  if (CHARSETS[collation] !== 'latin1') return buf.toString('utf8', start, end);
  return readHandshakeName(buf, start, end, collation, 'message');
}
