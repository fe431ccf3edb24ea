// The greeting facts proxies share through Redis: written as JSON and read back only
// when every field is what a proxy writes; anything else refuses the whole value.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkFacts,
  formatGreetingFacts,
  greetingFacts,
  GreetingFactsError,
  parseGreetingFacts,
  type GreetingFacts,
} from '../../backend/greeting-facts.js';
import { GreetingProfile } from '../../proxy/greeting-profile.js';
import { CLIENT_COMPRESS, CLIENT_MYSQL, CLIENT_PLUGIN_AUTH, CLIENT_SSL, MARIADB_CLIENT_CACHE_METADATA } from '../../protocol/constants.js';
import { PER_HOP_CAPABILITIES } from '../../backend/capabilities.js';
import { generateScramble } from '../../protocol/auth/native-password.js';
import { parseGreeting } from '../../protocol/packets/greeting.js';

const COMPUTE: GreetingFacts = { serverVersion: '5.5.5-10.11.19-MariaDB-log', capabilities: (0x81fff7fe & ~PER_HOP_CAPABILITIES) >>> 0, mariadbCapabilities: 0x1d, charset: 45 };
const stored = (o: Record<string, unknown>) => JSON.stringify({ ...JSON.parse(formatGreetingFacts(COMPUTE, 1_700_000_000_000)), ...o });

test('what a proxy writes it reads back as it was', () => {
  assert.deepEqual(parseGreetingFacts(formatGreetingFacts(COMPUTE, Date.now())), COMPUTE);
  // The highest capability bit set: unsigned, not a negative number.
  const high = { ...COMPUTE, capabilities: (COMPUTE.capabilities | 0x80000000) >>> 0, mariadbCapabilities: 0xffffffff };
  assert.deepEqual(parseGreetingFacts(formatGreetingFacts(high, 0)), high);
});

test('facts of a greeting drop what is per connection and per hop, and keep extended capabilities whole', () => {
  const g = { ...COMPUTE, capabilities: (COMPUTE.capabilities | CLIENT_SSL | CLIENT_COMPRESS) >>> 0, connectionId: 7, scramble: Buffer.alloc(20, 1), statusFlags: 2, protocolVersion: 10, authPluginName: 'x' };
  assert.deepEqual(greetingFacts(g), COMPUTE);
  assert.ok(!formatGreetingFacts(greetingFacts(g), 0).includes('scramble'));
});

const refused: Array<[string, string]> = [
  ['not JSON', '{"serverVersion":'],
  ['not an object', '[1,2]'],
  ['null', 'null'],
  ['a string', '"5.5.5-10.11.19-MariaDB"'],
  ['an unknown field', stored({ scramble: 'abc' })],
  ['a missing field', JSON.stringify({ serverVersion: COMPUTE.serverVersion, capabilities: COMPUTE.capabilities, charset: 45, at: 0 })],
  ['a missing time', JSON.stringify({ ...COMPUTE })],
  ['a version that is a number', stored({ serverVersion: 10.11 })],
  ['an empty version', stored({ serverVersion: '' })],
  ['a version with a NUL', stored({ serverVersion: '5.5.5-10.11.19\u0000MariaDB' })],
  ['a version with a newline', stored({ serverVersion: '5.5.5-10.11.19\nMariaDB' })],
  ['a version beyond ASCII', stored({ serverVersion: '5.5.5-10.11.19-MariaDB-é' })],
  ['a version that is no version', stored({ serverVersion: 'MariaDB' })],
  ['a version too long', stored({ serverVersion: '5.5.5-' + 'x'.repeat(250) })],
  ['capabilities as a string', stored({ capabilities: String(COMPUTE.capabilities) })],
  ['negative capabilities', stored({ capabilities: -1 })],
  ['capabilities past 32 bits', stored({ capabilities: 2 ** 32 })],
  ['fractional capabilities', stored({ capabilities: COMPUTE.capabilities + 0.5 })],
  ['capabilities without plugin auth', stored({ capabilities: (COMPUTE.capabilities & ~CLIENT_PLUGIN_AUTH) >>> 0 })],
  ['per-hop capabilities', stored({ capabilities: (COMPUTE.capabilities | CLIENT_SSL) >>> 0 })],
  ['extended capabilities with CLIENT_MYSQL', stored({ capabilities: (COMPUTE.capabilities | CLIENT_MYSQL) >>> 0 })],
  ['extended capabilities past 32 bits', stored({ mariadbCapabilities: 2 ** 32 })],
  ['extended capabilities as null', stored({ mariadbCapabilities: null })],
  ['charset 0', stored({ charset: 0 })],
  ['charset past a byte', stored({ charset: 256 })],
  ['charset as a string', stored({ charset: '45' })],
  ['a boolean charset', stored({ charset: true })],
  ['a negative time', stored({ at: -1 })],
  ['a time as a string', stored({ at: '2026-11-30' })],
];
for (const [what, text] of refused) {
  test(`refuses ${what}`, () => {
    assert.throws(() => parseGreetingFacts(text), GreetingFactsError);
  });
}

test('every truncated prefix of a stored value is refused', () => {
  const text = formatGreetingFacts(COMPUTE, 1);
  for (let n = 0; n < text.length; n++) assert.throws(() => parseGreetingFacts(text.slice(0, n)), GreetingFactsError, `prefix of ${n}`);
});

test('a writer checks its facts as a reader would', () => {
  checkFacts(COMPUTE);
  assert.throws(() => checkFacts({ ...COMPUTE, serverVersion: 'x\u0000' }), GreetingFactsError);
  assert.throws(() => checkFacts({ ...COMPUTE, charset: 0 }), GreetingFactsError);
});

test('the profile tells of a change once, with the facts before it withholds anything', () => {
  const told: GreetingFacts[] = [];
  const profile = GreetingProfile.forPoolMode('transaction', (f) => told.push(f));
  const compute = { ...COMPUTE, capabilities: (COMPUTE.capabilities | CLIENT_SSL) >>> 0, connectionId: 3, scramble: Buffer.alloc(20) };
  profile.learn(compute);
  profile.learn({ ...compute, charset: COMPUTE.charset });
  assert.deepEqual(told, [COMPUTE], 'one change, told without the per-hop bit, with metadata caching');
  assert.equal(parseGreeting(profile.greetingPayload(1, generateScramble())).mariadbCapabilities & MARIADB_CLIENT_CACHE_METADATA, 0);
  profile.learn({ ...compute, charset: 33 });
  assert.equal(told.length, 2);
  assert.equal(told[1]!.charset, 33);
});
