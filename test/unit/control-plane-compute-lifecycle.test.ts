// The compute state machine against a scripted driver and a real (in-memory
// SQLite) state store, so orderings that real processes make racy (a suspend
// inside a resume, a start that never answers, two control planes asked at
// once, a holder that dies mid-start) can be set up exactly. The real driver
// is covered by the integration tests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ComputeLifecycle } from '../../control-plane/compute-lifecycle.js';
import type { ComputeDriver, ComputeEndpoint, ObservedCompute } from '../../control-plane/drivers/driver.js';
import type { ComputeRecord } from '../../control-plane/records.js';
import { openStateStore } from '../../control-plane/store/sql-state-store.js';
import type { StateStore } from '../../control-plane/store/state-store.js';
import { testLogger } from '../helpers/logger.js';
import { testCompute, testProject } from '../helpers/store-records.js';

interface Pending {
  resolve(e: ComputeEndpoint): void;
  reject(err: Error): void;
}

function scriptedDriver(opts: { supportsFreeze?: boolean } = {}) {
  const calls: string[] = [];
  const starts: Pending[] = [];
  let seen: ObservedCompute = { state: 'stopped' };
  let crash: (id: string, reason: string) => void = () => {};
  const driver: ComputeDriver = {
    kind: 'scripted',
    placement: 'scripted:here',
    supportsFreeze: opts.supportsFreeze ?? true,
    async provision() {},
    resume(id, signal) {
      calls.push(`resume ${id}`);
      return new Promise((resolve, reject) => {
        starts.push({ resolve, reject });
        signal.addEventListener('abort', () => reject(new Error('aborted')));
      });
    },
    async suspend(id, tier) {
      calls.push(`suspend ${id} ${tier}`);
    },
    async applyLimits(id, size) {
      calls.push(`limits ${id} ${size.milli}`);
      return { enforced: false, why: 'scripted' };
    },
    async usage() {
      return {};
    },
    async destroy(id) {
      calls.push(`destroy ${id}`);
    },
    async observe() {
      return seen;
    },
    async adopt(id) {
      calls.push(`adopt ${id}`);
      return seen;
    },
    onUnexpectedExit(listener) {
      crash = listener;
    },
    async close() {},
  };
  return { driver, calls, starts, crash: (reason: string) => crash('shop-c1', reason), sees: (s: ObservedCompute) => (seen = s) };
}

const project = testProject('shop', { createdAt: 't0' });
const compute = testCompute('shop', { createdAt: 't0', updatedAt: 't0' });

async function newStore(initial: Partial<ComputeRecord> = {}): Promise<StateStore> {
  const { store } = await openStateStore({ location: ':memory:' });
  await store.createProject(project, { ...compute, ...initial });
  return store;
}

function lifecycle(store: StateStore, driver: ComputeDriver, o: { me?: string; alive?: (id: string) => boolean; wakeTimeoutMs?: number } = {}) {
  return new ComputeLifecycle({
    store,
    driver,
    me: o.me ?? 'cp-a',
    alive: async (id) => o.alive?.(id) ?? true,
    selfAlive: () => true,
    logger: testLogger(),
    wakeTimeoutMs: o.wakeTimeoutMs ?? 5_000,
  });
}

async function setup(opts: { supportsFreeze?: boolean; wakeTimeoutMs?: number } = {}) {
  const d = scriptedDriver(opts);
  const store = await newStore();
  const lc = lifecycle(store, d.driver, opts);
  return { ...d, store, lifecycle: lc, record: async () => (await store.getCompute('shop-c1'))! };
}

const flush = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};
/** Waits (at most a second) until cond holds: store writes take a few turns of the event loop. */
async function until(cond: () => boolean): Promise<void> {
  const deadline = Date.now() + 1_000;
  while (!cond() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1));
  assert.ok(cond(), 'condition not met within a second');
}
const ENDPOINT = { host: '127.0.0.1', port: 40001 };

test('concurrent wakes share one driver resume', async () => {
  const { lifecycle, record, calls, starts } = await setup();
  const wakes = Array.from({ length: 10 }, () => lifecycle.wake('shop-c1', 1_000));
  await flush();
  assert.equal((await record()).state, 'starting');
  starts[0]!.resolve(ENDPOINT);
  const views = await Promise.all(wakes);
  assert.deepEqual(calls, ['resume shop-c1']);
  for (const v of views) assert.deepEqual([v.state, v.host, v.port], ['active', '127.0.0.1', 40001]);
  assert.equal((await record()).resumeCount, 1);
  // Already active: answered without the driver.
  await lifecycle.wake('shop-c1', 1_000);
  assert.equal(calls.length, 1);
});

test('two control planes asked to wake one compute at once start it once', async () => {
  const d = scriptedDriver();
  const store = await newStore();
  const a = lifecycle(store, d.driver, { me: 'cp-a' });
  const b = lifecycle(store, d.driver, { me: 'cp-b' });
  const wakes = [a.wake('shop-c1', 2_000), b.wake('shop-c1', 2_000), a.wake('shop-c1', 2_000), b.wake('shop-c1', 2_000)];
  await flush();
  assert.equal(d.starts.length, 1, 'one resume, by whichever claimed first');
  d.starts[0]!.resolve(ENDPOINT);
  for (const v of await Promise.all(wakes)) assert.equal(v.port, 40001);
  assert.deepEqual(d.calls, ['resume shop-c1']);
  const events = await store.projectEvents('shop', Date.now() + 1);
  assert.deepEqual(events.map((e) => e.state), ['starting', 'active'], 'one transition each, recorded with the change');
});

test('a start left by a dead control plane is taken over and adopted, not started twice', async () => {
  const d = scriptedDriver();
  const store = await newStore({ state: 'starting', claim: { op: 'resume', holder: 'cp-dead', since: 1 }, resumeCount: 1 });
  d.sees({ state: 'running', endpoint: ENDPOINT });
  const b = lifecycle(store, d.driver, { me: 'cp-b', alive: (id) => id !== 'cp-dead' });
  const view = await b.wake('shop-c1', 2_000);
  assert.equal(view.state, 'active');
  assert.equal(view.port, 40001);
  assert.deepEqual(d.calls, ['adopt shop-c1'], 'the half-done start was adopted, no second resume');
  const c = (await store.getCompute('shop-c1'))!;
  assert.equal(c.owner, 'cp-b');
  assert.equal(c.claim, undefined);
  assert.equal(c.resumeCount, 1);
});

test('a live holder is waited for, not taken over', async () => {
  const d = scriptedDriver();
  const store = await newStore({ state: 'starting', claim: { op: 'resume', holder: 'cp-a', since: 1 } });
  const b = lifecycle(store, d.driver, { me: 'cp-b' });
  const waiting = b.wake('shop-c1', 2_000);
  await new Promise((r) => setTimeout(r, 150));
  assert.deepEqual(d.calls, []);
  const c = (await store.getCompute('shop-c1'))!;
  await store.changeCompute('shop-c1', c.version, { state: 'active', claim: null, endpoint: ENDPOINT }, { at: Date.now(), by: 'cp-a' });
  assert.equal((await waiting).port, 40001);
  assert.deepEqual(d.calls, []);
});

test('a suspend during a resume waits for it; a wake after the suspend resumes again', async () => {
  const { lifecycle, record, calls, starts } = await setup();
  const first = lifecycle.wake('shop-c1', 1_000);
  const suspended = lifecycle.suspend('shop-c1', 'stop');
  const second = lifecycle.wake('shop-c1', 1_000);
  await flush();
  assert.deepEqual(calls, ['resume shop-c1']);
  starts[0]!.resolve(ENDPOINT);
  assert.equal((await first).state, 'active');
  assert.equal((await suspended).state, 'stopped');
  await until(() => starts.length === 2);
  starts[1]!.resolve({ ...ENDPOINT, port: 40002 });
  assert.equal((await second).port, 40002);
  assert.deepEqual(calls, ['resume shop-c1', 'suspend shop-c1 stop', 'resume shop-c1']);
  assert.equal((await record()).resumeCount, 2);
});

test('a start that fails answers 503 and leaves the compute failed with the cause', async () => {
  const { lifecycle, record, starts } = await setup();
  const wake = lifecycle.wake('shop-c1', 1_000);
  await flush();
  starts[0]!.reject(new Error('compute shop-c1: mariadbd exited (1) before it was ready: Not a directory'));
  await assert.rejects(wake, (err: any) => {
    assert.equal(err.status, 503);
    assert.equal(err.code, 'compute_start_failed');
    assert.match(err.message, /^project 'shop': compute shop-c1 could not start: .*Not a directory/);
    return true;
  });
  const c = await record();
  assert.equal(c.state, 'failed');
  assert.match(c.lastError!, /Not a directory/);
  assert.equal(c.claim, undefined, 'a failed start releases its claim');
});

test('a start that outlasts the wake timeout answers 504 and is cancelled', async () => {
  const { lifecycle, record } = await setup({ wakeTimeoutMs: 50 });
  await assert.rejects(lifecycle.wake('shop-c1', 5_000), (err: any) => err.status === 504 && err.code === 'wake_timeout');
  const c = await record();
  assert.equal(c.state, 'failed');
  assert.match(c.lastError!, /did not start within 50 ms/);
});

test('a waiter with a short deadline gives up alone; the start goes on for others', async () => {
  const { lifecycle, starts } = await setup();
  const impatient = lifecycle.wake('shop-c1', 20);
  const patient = lifecycle.wake('shop-c1', 5_000);
  await assert.rejects(impatient, (err: any) => err.code === 'wake_timeout');
  await flush();
  starts[0]!.resolve(ENDPOINT);
  assert.equal((await patient).state, 'active');
});

test('a crash of an active compute marks it failed and drops its address', async () => {
  const { lifecycle, record, starts, crash } = await setup();
  const wake = lifecycle.wake('shop-c1', 1_000);
  await flush();
  starts[0]!.resolve(ENDPOINT);
  await wake;
  crash('mariadbd (pid 7) exited unexpectedly with signal SIGKILL');
  await flush();
  const c = await record();
  assert.equal(c.state, 'failed');
  assert.equal(c.endpoint, undefined);
  assert.match(c.lastError!, /SIGKILL/);
});

test('freeze becomes stop where the driver cannot freeze, or nothing serves', async () => {
  const d1 = scriptedDriver({ supportsFreeze: false });
  const noFreeze = lifecycle(await newStore({ state: 'active', endpoint: ENDPOINT }), d1.driver);
  assert.equal((await noFreeze.suspend('shop-c1', 'freeze')).state, 'stopped');
  assert.deepEqual(d1.calls, ['suspend shop-c1 stop']);

  const d2 = scriptedDriver();
  const failed = lifecycle(await newStore({ state: 'failed' }), d2.driver);
  assert.equal((await failed.suspend('shop-c1', 'freeze')).state, 'stopped');
  assert.deepEqual(d2.calls, ['suspend shop-c1 stop']);
});

test('close cancels a start in flight', async () => {
  const { lifecycle, record } = await setup();
  const wake = lifecycle.wake('shop-c1', 5_000);
  await flush();
  await lifecycle.close(false);
  await assert.rejects(wake, /shutting down/);
  assert.equal((await record()).state, 'failed');
});

test('the restart of an unresponsive compute does not undo a stop asked while its process was being stopped', async () => {
  const store = await newStore({ state: 'active', endpoint: ENDPOINT, owner: 'cp-a' });
  const fence = { name: 'scheduler', epoch: (await store.leaderLock('scheduler', 'cp-a', 10_000).acquireOrRenew())! };
  const a = scriptedDriver();
  // The hung process takes a while to go: the user's stop arrives on the other control plane meanwhile.
  let gone!: () => void;
  const stopping = new Promise<void>((r) => (gone = r));
  const suspend = a.driver.suspend;
  a.driver.suspend = async (id, tier) => {
    await suspend(id, tier);
    await stopping;
  };
  const leader = lifecycle(store, a.driver, { me: 'cp-a', wakeTimeoutMs: 300 });
  const other = lifecycle(store, scriptedDriver().driver, { me: 'cp-b' });
  const restart = leader.restartUnresponsive('shop-c1', 'did not answer', (await store.getCompute('shop-c1'))!.updatedAt, fence);
  await until(() => a.calls.includes('suspend shop-c1 stop'));
  assert.equal((await other.suspend('shop-c1', 'stop')).state, 'stopped');
  gone();
  assert.equal(await restart, true, 'reported failed and its process stopped');
  assert.equal((await store.getCompute('shop-c1'))!.state, 'stopped', 'the stop stands');
  assert.deepEqual(a.calls, ['suspend shop-c1 stop'], 'not started again');
});

test('the restart of an unresponsive compute starts it again when nothing else happened', async () => {
  const store = await newStore({ state: 'active', endpoint: ENDPOINT, owner: 'cp-a' });
  const fence = { name: 'scheduler', epoch: (await store.leaderLock('scheduler', 'cp-a', 10_000).acquireOrRenew())! };
  const a = scriptedDriver();
  const restart = lifecycle(store, a.driver).restartUnresponsive('shop-c1', 'did not answer', (await store.getCompute('shop-c1'))!.updatedAt, fence);
  await until(() => a.starts.length === 1);
  a.starts[0]!.resolve(ENDPOINT);
  assert.equal(await restart, true);
  assert.equal((await store.getCompute('shop-c1'))!.state, 'active');
  assert.deepEqual(a.calls, ['suspend shop-c1 stop', 'resume shop-c1']);
});
