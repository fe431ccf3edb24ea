// The line a session ends with is built by hand (proxy/session-log.ts): it must be the
// line pino writes for the same fields, byte for byte, on the logger the proxy makes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino, type DestinationStream } from 'pino';
import { SessionLog, type ClosedLine } from '../../proxy/session-log.js';

/** A logger as cli/logger.ts makes it (name, redaction), with a fixed clock, writing into `out`. */
function logger(out: string[], level = 'info') {
  const dest: DestinationStream = { write: (line: string) => void out.push(line) };
  const redact = { paths: ['password', 'token', 'authResponse', 'err.password', 'err.token', 'err.authResponse'], censor: '[redacted]' };
  return pino({ name: 'wake-proxy', level, redact, timestamp: () => ',"time":1700000000123' }, dest);
}

const FIELDS: ClosedLine = {
  readyMs: 0.8,
  compute: 'bench-c1',
  auth: 'verified',
  reason: 'client_quit',
  durationMs: 12.3,
  bytesIn: 225,
  bytesOut: 183,
};

/** What pino writes for the session's fields, as session-log.ts merged them before the hand-built line. */
function byPino(root: ReturnType<typeof logger>, conn: number, client: string, login: [string | undefined, string, boolean] | null, f: ClosedLine): void {
  const [project, user, tls] = login ?? [undefined, undefined, false];
  root.info({ conn, client, project, user, tls: tls ? true : undefined, ...f }, 'session closed');
}

const CASES: { name: string; login: [string | undefined, string, boolean] | null; f: ClosedLine }[] = [
  { name: 'a verified login', login: ['bench', 'owner', false], f: FIELDS },
  { name: 'before any login (no project, user or readiness)', login: null, f: { ...FIELDS, readyMs: undefined, compute: undefined, auth: undefined, reason: 'client_gone' } },
  { name: 'TLS, no project (static backend)', login: [undefined, 'app', true], f: FIELDS },
  {
    name: 'names that need escaping (quotes, backslash, control and non-ASCII characters)',
    login: ['p"r\\o', 'us\ter\n\u0001é漢字😀', false],
    f: { ...FIELDS, compute: 'c"1', reason: 'killed' },
  },
  { name: 'a number that is not finite', login: ['bench', 'owner', false], f: { ...FIELDS, durationMs: Number.NaN } },
  {
    name: 'numbers that are not tenths, or too big or small for the short way',
    login: ['bench', 'owner', false],
    f: { ...FIELDS, readyMs: 0.1 + 0.2, durationMs: 123456789.7, bytesIn: 0, bytesOut: 2 ** 40 },
  },
  {
    name: 'negative numbers, exponents, the biggest short tenths and negative zero',
    login: ['bench', 'owner', false],
    f: { ...FIELDS, readyMs: -0.5, durationMs: 1e21, bytesIn: 5e-7, bytesOut: 214748364.7 },
  },
  { name: 'halves of tenths and zero', login: ['bench', 'owner', false], f: { ...FIELDS, readyMs: 0.05, durationMs: 9.95, bytesIn: -0, bytesOut: 0.1 } },
  { name: 'names with a slash, spaces and every printable sign', login: [' !#$%&()*+,-./:;<=>?@[]^_`{|}~', 'a b', false], f: { ...FIELDS, compute: '10.0.0.7:3306' } },
];

for (const c of CASES) {
  test(`the session closed line is pino's own: ${c.name}`, () => {
    const mine: string[] = [];
    const theirs: string[] = [];
    const log = new SessionLog(logger(mine), 1733296128, '127.0.0.1:37908');
    if (c.login) log.bindLogin(...c.login);
    log.closed(c.f);
    byPino(logger(theirs), 1733296128, '127.0.0.1:37908', c.login, c.f);
    assert.equal(mine.length, 1);
    assert.equal(mine[0], theirs[0]);
    assert.doesNotThrow(() => JSON.parse(mine[0]!));
  });
}

test('the session closed line is not written below info', () => {
  const out: string[] = [];
  const log = new SessionLog(logger(out, 'warn'), 1, '127.0.0.1:1');
  log.closed(FIELDS);
  assert.deepEqual(out, []);
});
