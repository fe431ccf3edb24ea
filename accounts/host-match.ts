// Does an account's host pattern admit a connection from an IP address, as
// MariaDB 10.11 decides it (sql_acl.cc: update_hostname, compare_hostname,
// calc_ip; mysys wild_compare)?
//
// The proxy only ever asks for a compute that runs with --skip-name-resolve: the
// compute then knows the connecting side by its IP alone, so the name branch of
// compare_hostname (a case-insensitive match against a resolved host name) never
// applies, and 'localhost' admits no TCP connection, not even from 127.0.0.1.
//
// The rules, in the server's order:
//   - a pattern of the form a.b.c.d/m.m.m.m (four decimal parts each side, mask
//     not 0.0.0.0) admits an IPv4 address whose bits under the mask equal a.b.c.d;
//     CIDR suffixes (/8) mean nothing special to 10.11 and fall to the next rule;
//   - otherwise the IP text is matched against the pattern byte by byte, case
//     sensitive: '%' any run of characters, '_' one character, '\' makes the next
//     character literal (a '\' at the very end is a literal '\');
//   - an empty pattern was stored as '%' (CREATE USER x@'' writes '%').

/** MariaDB prints an IPv4 client of a dual-stack socket as plain IPv4. */
export function normalizeIp(ip: string): string {
  const m = /^::ffff:(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/i.exec(ip);
  return m ? m[1]! : ip;
}

export function hostMatches(pattern: string, ip: string): boolean {
  const masked = maskedNetwork(pattern);
  if (masked) {
    const addr = ipv4Value(ip);
    if (addr !== null) return ((addr & masked.mask) >>> 0) === masked.network;
  }
  return wildMatch(ip, pattern === '' ? '%' : pattern);
}

/** a.b.c.d/m.m.m.m with a non-zero mask, as update_hostname reads it; null otherwise. */
export function maskedNetwork(pattern: string): { network: number; mask: number } | null {
  const slash = pattern.indexOf('/');
  if (slash < 0) return null;
  const network = ipv4Value(pattern.slice(0, slash));
  const mask = ipv4Value(pattern.slice(slash + 1));
  if (network === null || mask === null || mask === 0) return null;
  return { network, mask };
}

/**
 * Exactly four dot-separated decimal parts of 0..255, each of which may start with
 * white space and a sign, as the server's str2int reads them; null otherwise.
 */
function ipv4Value(text: string): number | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  let value = 0;
  for (const part of parts) {
    const m = /^[ \t\n\v\f\r]*([+-]?)(\d+)$/.exec(part);
    if (!m) return null;
    const n = Number(m[2]) * (m[1] === '-' ? -1 : 1);
    if (!Number.isSafeInteger(n) || n < 0 || n > 255) return null;
    value = value * 256 + n;
  }
  return value >>> 0;
}

/** LIKE-style match of `text` against `pattern` with '%', '_' and '\' escapes, byte-wise. */
export function wildMatch(text: string, pattern: string): boolean {
  // Most accounts' host: it admits every address, with no bytes to compare.
  if (pattern === '%') return true;
  const s = Buffer.from(text, 'utf8');
  const p = Buffer.from(pattern, 'utf8');
  // Iterative matching with one backtrack point (the last '%'), linear in practice.
  let si = 0;
  let pi = 0;
  let starP = -1;
  let starS = 0;
  while (si < s.length) {
    if (pi < p.length) {
      const c = p[pi]!;
      if (c === PERCENT) {
        starP = ++pi;
        starS = si;
        continue;
      }
      if (c === UNDERSCORE) {
        si++;
        pi++;
        continue;
      }
      const escaped = c === BACKSLASH && pi + 1 < p.length;
      const literal = escaped ? p[pi + 1]! : c;
      if (literal === s[si]) {
        si++;
        pi += escaped ? 2 : 1;
        continue;
      }
    }
    if (starP < 0) return false;
    pi = starP;
    si = ++starS;
  }
  while (pi < p.length && p[pi] === PERCENT) pi++;
  return pi === p.length;
}

const PERCENT = 0x25;
const UNDERSCORE = 0x5f;
const BACKSLASH = 0x5c;
