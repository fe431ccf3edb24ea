// The account facts that decide a login once its password is right, and the
// on-demand read scheduler that keeps account changes prompt without a flood.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { passwordExpiry, transportAccepted, countsPasswordErrors } from '../../proxy/account-rules.js';
import { DEFAULT_POLICY, type Account } from '../../accounts/account.js';
import { CoalescedReads } from '../../util/coalesced-reads.js';
import { MemoryPasswordErrors, passwordErrorKey } from '../../accounts/password-errors.js';

const DAY = 86_400_000;
const account = (o: Partial<Account> = {}): Account => ({
  user: 'u',
  host: '%',
  methods: [],
  locked: false,
  passwordExpired: false,
  passwordLastChanged: 1_000_000,
  passwordLifetime: -1,
  ssl: 'none',
  neverBlocked: false,
  resourceLimited: false,
  version: 'v',
  ...o,
});
const at = (days: number, extraMs = 0) => 1_000_000_000 + days * DAY + extraMs;

test('password expiry: PASSWORD EXPIRE, the account lifetime, the server default, and the uncertain edge', () => {
  assert.equal(passwordExpiry(account({ passwordExpired: true }), DEFAULT_POLICY, at(0)), 'expired');
  assert.equal(passwordExpiry(account(), DEFAULT_POLICY, at(10_000)), 'valid', 'no lifetime anywhere: never');
  const policy = { ...DEFAULT_POLICY, defaultPasswordLifetime: 2 };
  assert.equal(passwordExpiry(account(), policy, at(1)), 'valid');
  assert.equal(passwordExpiry(account(), policy, at(3)), 'expired', 'the server default applies to lifetime -1');
  assert.equal(passwordExpiry(account({ passwordLifetime: 0 }), policy, at(3)), 'valid', 'EXPIRE NEVER beats the default');
  assert.equal(passwordExpiry(account({ passwordLifetime: 5 }), policy, at(4)), 'valid');
  assert.equal(passwordExpiry(account({ passwordLifetime: 5 }), policy, at(6)), 'expired');
  // Whole days from password_last_changed, by the server's clock: near the boundary the proxy lets the compute decide.
  assert.equal(passwordExpiry(account(), policy, at(2, -60_000)), 'unsure');
  assert.equal(passwordExpiry(account(), policy, at(2, 60_000)), 'unsure');
  assert.equal(passwordExpiry(account(), policy, at(2, 600_000)), 'expired');
});

test('TLS the compute will ask of the proxy, and who is counted for max_password_errors', () => {
  assert.equal(transportAccepted(account(), undefined), true);
  assert.equal(transportAccepted(account({ ssl: 'any' }), undefined), false);
  assert.equal(transportAccepted(account({ ssl: 'any' }), { rejectUnauthorized: false }), true);
  assert.equal(transportAccepted(account({ ssl: 'x509' }), { rejectUnauthorized: false }), false, 'the proxy sends no client certificate');
  assert.equal(countsPasswordErrors(account(), DEFAULT_POLICY), false, 'unlimited by default');
  assert.equal(countsPasswordErrors(account(), { ...DEFAULT_POLICY, maxPasswordErrors: 3 }), true);
  assert.equal(countsPasswordErrors(account({ neverBlocked: true }), { ...DEFAULT_POLICY, maxPasswordErrors: 3 }), false);
});

test('failed-password counters: per account and row version, cleared on success, bounded in memory', async () => {
  const store = new MemoryPasswordErrors(2);
  const k1 = passwordErrorKey('shop', { user: 'u', host: '%', version: 'v1' });
  const k2 = passwordErrorKey('shop', { user: 'u', host: '%', version: 'v2' });
  assert.equal(await store.increment(k1), 1);
  assert.equal(await store.increment(k1), 2);
  assert.equal(await store.count(k2), 0, 'a changed row starts from zero');
  await store.clear(k1);
  assert.equal(await store.count(k1), 0);
  await store.increment(k1);
  await store.increment(k2);
  await store.increment(passwordErrorKey('shop', { user: 'x', host: '%', version: 'v' }));
  assert.equal(await store.count(k1), 0, 'the oldest counter went first');
});

test('coalesced reads: a caller gets a read that started after it asked; waiters share one; starts are spaced', async () => {
  const starts: number[] = [];
  const reads = new CoalescedReads(async () => {
    starts.push(performance.now());
    await sleep(20);
  });
  const t0 = performance.now();
  await reads.atLeastFrom(t0, 100);
  assert.equal(starts.length, 1);
  assert.ok(starts[0]! >= t0);
  // Ten callers right after: all need a newer read, all share the next one, 100 ms after the first began.
  const asked = performance.now();
  await Promise.all(Array.from({ length: 10 }, () => reads.atLeastFrom(asked, 100)));
  assert.equal(starts.length, 2);
  assert.ok(starts[1]! >= asked && starts[1]! - starts[0]! >= 99, `spaced ${starts[1]! - starts[0]!} ms`);
  // A caller that asked before the running read began just joins it.
  const early = performance.now();
  const running = reads.atLeastFrom(performance.now(), 0);
  await Promise.all([running, reads.atLeastFrom(early, 0)]);
  assert.equal(starts.length, 3);
  // A caller allowing no gap cuts a queued read's wait short.
  const slow = reads.atLeastFrom(performance.now() + 1, 5_000);
  const now = performance.now();
  await Promise.all([slow, reads.atLeastFrom(now + 1, 0)]);
  assert.ok(performance.now() - now < 1_000, 'the smaller gap won');
  await reads.settled();
});
