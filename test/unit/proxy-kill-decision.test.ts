// What a KILL comes to, decided against a fake registry and fake peers (the real ones
// are exercised against mariadbd and redis-server in test/integration/kill-*.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decideKill, type Killer, type KillDeps } from '../../proxy/kill/kill-decision.js';
import { SESSION_ID_BASE, SessionIds, instanceOf, isSessionId } from '../../proxy/kill/session-ids.js';
import type { KillTarget } from '../../proxy/kill/session-registry.js';
import type { KillPeers, RemoteTarget } from '../../proxy/kill/kill-peers.js';
import { parseKill } from '../../relay/kill-statement.js';

const ME = 7;
const ids = new SessionIds(ME);
const KILLER_ID = ids.issue(() => false);
const TARGET_ID = ids.issue(() => false);
const OTHER_PROXY_ID = new SessionIds(8).issue(() => false);

function target(over: Partial<KillTarget> & { thread?: number | null } = {}) {
  const calls = { aimed: 0, ended: 0 };
  const t: KillTarget = {
    compute: over.compute ?? 'c1',
    user: over.user ?? 'app',
    aim: () => {
      calls.aimed++;
      return over.thread === undefined ? 42 : over.thread;
    },
    end: () => void calls.ended++,
  };
  return { t, calls };
}

function killer(over: Partial<Killer> = {}): Killer {
  return { id: KILLER_ID, pooled: true, compute: 'c1', user: 'app', mayKillOthers: async () => false, ...over };
}

function deps(local: KillTarget | undefined, peers: KillPeers | null = null): KillDeps {
  return { instance: ME, local: (id) => (id === TARGET_ID ? local : undefined), peers };
}

const kill = (sql: string) => parseKill(sql)!;

test('session ids: [2^30, 2^31), the instance in their bits, ids in use skipped', () => {
  assert.ok(isSessionId(KILLER_ID) && KILLER_ID >= SESSION_ID_BASE && KILLER_ID < 2 ** 31);
  assert.equal(instanceOf(KILLER_ID), ME);
  assert.equal(instanceOf(OTHER_PROXY_ID), 8);
  assert.ok(!isSessionId(SESSION_ID_BASE - 1) && !isSessionId(2 ** 31));
  const fresh = new SessionIds(0);
  const taken = new Set([SESSION_ID_BASE, SESSION_ID_BASE + 1]);
  assert.equal(fresh.issue((id) => taken.has(id)), SESSION_ID_BASE + 2);
  assert.throws(() => new SessionIds(1024), /not in 0..1023/);
  assert.throws(() => new SessionIds(3).issue(() => true), /in use/);
});

test('a session running a statement on the same compute: the KILL names its thread, which is aimed at', async () => {
  const { t, calls } = target();
  assert.deepEqual(await decideKill(kill(`KILL QUERY ${TARGET_ID}`), killer(), deps(t)), { kind: 'send', sql: 'KILL QUERY 42' });
  assert.deepEqual(await decideKill(kill(`KILL HARD ${TARGET_ID}`), killer({ pooled: false }), deps(t)), { kind: 'send', sql: 'KILL HARD CONNECTION 42' });
  assert.equal(calls.aimed, 2);
});

test('another compute, or an id nobody issued: 1094, and nothing is aimed at', async () => {
  const { t, calls } = target({ compute: 'c2' });
  const unknown = (id: number | string) => ({ kind: 'error', error: { code: 1094, sqlState: 'HY000', message: `Unknown thread id: ${id}` } });
  assert.deepEqual(await decideKill(kill(`KILL QUERY ${TARGET_ID}`), killer(), deps(t)), unknown(TARGET_ID));
  assert.equal(calls.aimed, 0);
  assert.deepEqual(await decideKill(kill(`KILL ${TARGET_ID + 5}`), killer(), deps(t)), unknown(TARGET_ID + 5));
  assert.deepEqual(await decideKill(kill('KILL 12'), killer(), deps(t)), unknown(12), 'a compute thread id, pooled: never raw');
  assert.deepEqual(await decideKill(kill('KILL 12'), killer({ pooled: false }), deps(t)), { kind: 'pass' }, 'pipe: the connection is its own');
  assert.deepEqual(await decideKill(kill(`KILL QUERY ${OTHER_PROXY_ID}`), killer(), deps(t)), unknown(OTHER_PROXY_ID), 'no peers: another proxy is out of reach');
});

test('between statements: KILL QUERY is an OK, KILL CONNECTION ends the session, another user needs the privilege', async () => {
  const { t, calls } = target({ thread: null });
  assert.deepEqual(await decideKill(kill(`KILL QUERY ${TARGET_ID}`), killer(), deps(t)), { kind: 'ok' });
  assert.equal(calls.ended, 0);
  assert.deepEqual(await decideKill(kill(`KILL ${TARGET_ID}`), killer(), deps(t)), { kind: 'ok' });
  assert.equal(calls.ended, 1);
  const stranger = killer({ user: 'other' });
  assert.deepEqual(await decideKill(kill(`KILL ${TARGET_ID}`), stranger, deps(t)), {
    kind: 'error',
    error: { code: 1095, sqlState: 'HY000', message: `You are not owner of thread ${TARGET_ID}` },
  });
  const failing = killer({ user: 'other', mayKillOthers: async () => Promise.reject(new Error('compute gone')) });
  assert.equal(((await decideKill(kill(`KILL ${TARGET_ID}`), failing, deps(t))) as { error?: { code: number } }).error?.code, 1095, 'fails closed');
  assert.deepEqual(await decideKill(kill(`KILL ${TARGET_ID}`), killer({ user: 'other', mayKillOthers: async () => true }), deps(t)), { kind: 'ok' });
  assert.equal(calls.ended, 2);
});

test("the session's own id, or CONNECTION_ID(): its own compute connection", async () => {
  const self = (scope: string, sql: string) => ({ kind: 'self', scope, sql });
  assert.deepEqual(await decideKill(kill(`KILL QUERY ${KILLER_ID}`), killer(), deps(undefined)), self('query', 'KILL QUERY CONNECTION_ID()'));
  assert.deepEqual(await decideKill(kill(`KILL SOFT ${KILLER_ID}`), killer({ pooled: false }), deps(undefined)), self('connection', 'KILL SOFT CONNECTION CONNECTION_ID()'));
  assert.deepEqual(await decideKill(kill('KILL CONNECTION_ID()'), killer(), deps(undefined)), self('connection', 'KILL CONNECTION CONNECTION_ID()'));
  assert.deepEqual(await decideKill(kill('KILL CONNECTION_ID()'), killer({ pooled: false }), deps(undefined)), { kind: 'pass' });
});

test('forms a pooled session cannot carry out are refused; pipe sessions pass them to their own compute connection', async () => {
  for (const sql of ['KILL QUERY ID 5', 'KILL USER app', 'KILL QUERY 5 + 0']) {
    const pooled = (await decideKill(kill(sql), killer(), deps(undefined))) as { kind: string; error?: { code: number; message: string } };
    assert.equal(pooled.error?.code, 1235, sql);
    assert.ok(pooled.error!.message.length <= 128, 'fits a SIGNAL message');
    assert.deepEqual(await decideKill(kill(sql), killer({ pooled: false }), deps(undefined)), { kind: 'pass' }, sql);
  }
});

test("a session of another proxy is asked of it, with the killer's compute", async () => {
  const asked: Array<[number, string]> = [];
  let ended = 0;
  const remote: RemoteTarget = { compute: 'c1', user: 'app', thread: 99 };
  const peers: KillPeers = {
    locate: async (id, compute) => (asked.push([id, compute]), remote),
    end: async () => (ended++, true),
    close: async () => {},
  };
  assert.deepEqual(await decideKill(kill(`KILL QUERY ${OTHER_PROXY_ID}`), killer(), deps(undefined, peers)), { kind: 'send', sql: 'KILL QUERY 99' });
  assert.deepEqual(asked, [[OTHER_PROXY_ID, 'c1']]);
  remote.thread = null;
  assert.deepEqual(await decideKill(kill(`KILL ${OTHER_PROXY_ID}`), killer(), deps(undefined, peers)), { kind: 'ok' });
  assert.equal(ended, 1);
});
