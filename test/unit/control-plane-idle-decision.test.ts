// The idle rule on its own: which compute is suspended, to which tier, and
// which facts keep one awake.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultCheckIntervalMs, idleTier, type ComputeFacts } from '../../control-plane/idle-decision.js';

const rules = { idleTimeoutMs: 60_000, coldTimeoutMs: 600_000 };
const now = 10_000_000;
const active = (over: Partial<ComputeFacts> = {}): ComputeFacts => ({ state: 'active', since: now - 3_600_000, clients: 0, ...over });

test('an active compute unused for the idle timeout is frozen', () => {
  assert.equal(idleTier(active({ lastActiveAt: now - 60_000 }), rules, now), 'freeze');
});

test('without a cold tier an idle compute is stopped at once', () => {
  assert.equal(idleTier(active(), { idleTimeoutMs: 60_000, coldTimeoutMs: 0 }, now), 'stop');
});

test('a connected client keeps a compute awake however long it is quiet', () => {
  assert.equal(idleTier(active({ clients: 1, lastActiveAt: now - 3_600_000 }), rules, now), undefined);
});

test('recent activity, a recent wake or a recent resume each keep it awake', () => {
  assert.equal(idleTier(active({ lastActiveAt: now - 59_999 }), rules, now), undefined);
  assert.equal(idleTier(active({ lastWakeAt: now - 1_000 }), rules, now), undefined);
  assert.equal(idleTier(active({ since: now - 1_000 }), rules, now), undefined);
});

test('an activity time in the future (clock skew) counts as now', () => {
  assert.equal(idleTier(active({ lastActiveAt: now + 120_000 }), rules, now), undefined);
});

test('a frozen compute is stopped after the cold timeout, not before', () => {
  assert.equal(idleTier({ state: 'frozen', since: now - 599_999, clients: 0 }, rules, now), undefined);
  assert.equal(idleTier({ state: 'frozen', since: now - 600_000, clients: 0 }, rules, now), 'stop');
  assert.equal(idleTier({ state: 'frozen', since: now - 600_000, clients: 2 }, rules, now), undefined);
});

test('computes in transition or not running are left alone', () => {
  for (const state of ['starting', 'stopping', 'stopped', 'failed'] as const) {
    assert.equal(idleTier({ state, since: 0, clients: 0 }, rules, now), undefined, state);
  }
});

test('the check interval is a fifth of the idle timeout within 200 ms and a minute', () => {
  assert.equal(defaultCheckIntervalMs(300_000), 60_000);
  assert.equal(defaultCheckIntervalMs(2_000), 400);
  assert.equal(defaultCheckIntervalMs(500), 200);
  assert.equal(defaultCheckIntervalMs(3_600_000), 60_000);
});
