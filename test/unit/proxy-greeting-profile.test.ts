// The proxy's greeting: what it offers, written from a template per capability set,
// and rewritten when the computes it meets say something else.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GreetingProfile } from '../../proxy/greeting-profile.js';
import { CLIENT_COMPRESS, CLIENT_SSL, MARIADB_CLIENT_CACHE_METADATA } from '../../protocol/constants.js';
import { generateScramble } from '../../protocol/auth/native-password.js';
import { parseGreeting, writeGreeting } from '../../protocol/packets/greeting.js';

test('each client gets the greeting written for it, whatever its id, scramble and extra capabilities', () => {
  const profile = GreetingProfile.forPoolMode('transaction');
  for (const extra of [0, CLIENT_COMPRESS, CLIENT_COMPRESS | CLIENT_SSL, CLIENT_COMPRESS]) {
    for (const id of [1, 2 ** 30 + 5, 2 ** 31 - 1]) {
      const scramble = generateScramble();
      const payload = profile.greetingPayload(id, scramble, extra);
      assert.ok(payload.equals(writeGreeting(profile.greeting(id, scramble, extra))));
      const parsed = parseGreeting(payload);
      assert.equal(parsed.connectionId, id);
      assert.ok(parsed.scramble.equals(scramble));
      assert.equal(parsed.mariadbCapabilities & MARIADB_CLIENT_CACHE_METADATA, 0, 'transaction mode withholds metadata caching');
    }
  }
});

test('what the computes say changes the next greetings, and saying it again changes nothing', () => {
  const profile = new GreetingProfile();
  const before = parseGreeting(profile.greetingPayload(9, generateScramble()));
  const compute = { ...before, serverVersion: '5.5.5-10.11.19-MariaDB', charset: 45, capabilities: (before.capabilities & ~CLIENT_SSL) >>> 0 };
  profile.learn(compute);
  const after = parseGreeting(profile.greetingPayload(10, generateScramble()));
  assert.equal(after.serverVersion, '5.5.5-10.11.19-MariaDB');
  assert.equal(after.charset, 45);
  profile.learn(compute);
  assert.deepEqual({ ...parseGreeting(profile.greetingPayload(10, after.scramble)), scramble: null }, { ...after, scramble: null });
});
