// The compute state machine against a scripted driver, so orderings that real
// processes make racy (a suspend inside a resume, a start that never answers)
// can be set up exactly. The real driver is covered by the integration tests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ComputeLifecycle } from '../../control-plane/compute-lifecycle.js';
import type { ComputeDriver, ComputeEndpoint } from '../../control-plane/drivers/driver.js';
import type { ComputeRecord } from '../../control-plane/records.js';
import { testLogger } from '../helpers/logger.js';

interface Pending {
  resolve(e: ComputeEndpoint): void;
  reject(err: Error): void;
}

function setup(opts: { supportsFreeze?: boolean; wakeTimeoutMs?: number } = {}) {
  const calls: string[] = [];
  const starts: Pending[] = [];
  let crash: (id: string, reason: string) => void = () => {};
  const driver: ComputeDriver = {
    kind: 'scripted',
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
    async destroy(id) {
      calls.push(`destroy ${id}`);
    },
    async observe() {
      return { state: 'stopped' };
    },
    onUnexpectedExit(listener) {
      crash = listener;
    },
    async close() {},
  };
  const record: ComputeRecord = {
    id: 'shop-c1',
    projectId: 'shop',
    state: 'stopped',
    createdAt: 't0',
    updatedAt: 't0',
    resumeCount: 0,
  };
  const computes = new Map([[record.id, record]]);
  const lifecycle = new ComputeLifecycle({
    driver,
    computes,
    persist: async () => {},
    logger: testLogger(),
    wakeTimeoutMs: opts.wakeTimeoutMs ?? 5_000,
  });
  return { lifecycle, record, calls, starts, crash: (reason: string) => crash(record.id, reason) };
}

const flush = () => new Promise((r) => setImmediate(r));
const ENDPOINT = { host: '127.0.0.1', port: 40001 };

test('concurrent wakes share one driver resume', async () => {
  const { lifecycle, record, calls, starts } = setup();
  const wakes = Array.from({ length: 10 }, () => lifecycle.wake('shop-c1', 1_000));
  await flush();
  assert.equal(record.state, 'starting');
  starts[0]!.resolve(ENDPOINT);
  const views = await Promise.all(wakes);
  assert.deepEqual(calls, ['resume shop-c1']);
  for (const v of views) assert.deepEqual([v.state, v.host, v.port], ['active', '127.0.0.1', 40001]);
  assert.equal(record.resumeCount, 1);
  // Already active: answered without the driver.
  await lifecycle.wake('shop-c1', 1_000);
  assert.equal(calls.length, 1);
});

test('a suspend during a resume waits for it; a wake after the suspend resumes again', async () => {
  const { lifecycle, record, calls, starts } = setup();
  const first = lifecycle.wake('shop-c1', 1_000);
  const suspended = lifecycle.suspend('shop-c1', 'stop');
  const second = lifecycle.wake('shop-c1', 1_000);
  await flush();
  assert.deepEqual(calls, ['resume shop-c1']);
  starts[0]!.resolve(ENDPOINT);
  assert.equal((await first).state, 'active');
  assert.equal((await suspended).state, 'stopped');
  await flush();
  starts[1]!.resolve({ ...ENDPOINT, port: 40002 });
  assert.equal((await second).port, 40002);
  assert.deepEqual(calls, ['resume shop-c1', 'suspend shop-c1 stop', 'resume shop-c1']);
  assert.equal(record.resumeCount, 2);
});

test('a start that fails answers 503 and leaves the compute failed with the cause', async () => {
  const { lifecycle, record, starts } = setup();
  const wake = lifecycle.wake('shop-c1', 1_000);
  await flush();
  starts[0]!.reject(new Error('compute shop-c1: mariadbd exited (1) before it was ready: Not a directory'));
  await assert.rejects(wake, (err: any) => {
    assert.equal(err.status, 503);
    assert.equal(err.code, 'compute_start_failed');
    assert.match(err.message, /^project 'shop': compute shop-c1 could not start: .*Not a directory/);
    return true;
  });
  assert.equal(record.state, 'failed');
  assert.match(record.lastError!, /Not a directory/);
});

test('a start that outlasts the wake timeout answers 504 and is cancelled', async () => {
  const { lifecycle, record } = setup({ wakeTimeoutMs: 50 });
  await assert.rejects(lifecycle.wake('shop-c1', 5_000), (err: any) => err.status === 504 && err.code === 'wake_timeout');
  assert.equal(record.state, 'failed');
  assert.match(record.lastError!, /did not start within 50 ms/);
});

test('a waiter with a short deadline gives up alone; the start goes on for others', async () => {
  const { lifecycle, starts } = setup();
  const impatient = lifecycle.wake('shop-c1', 20);
  const patient = lifecycle.wake('shop-c1', 5_000);
  await assert.rejects(impatient, (err: any) => err.code === 'wake_timeout');
  starts[0]!.resolve(ENDPOINT);
  assert.equal((await patient).state, 'active');
});

test('a crash of an active compute marks it failed and drops its address', async () => {
  const { lifecycle, record, starts, crash } = setup();
  const wake = lifecycle.wake('shop-c1', 1_000);
  await flush();
  starts[0]!.resolve(ENDPOINT);
  await wake;
  crash('mariadbd (pid 7) exited unexpectedly with signal SIGKILL');
  assert.equal(record.state, 'failed');
  assert.equal(record.endpoint, undefined);
  assert.match(record.lastError!, /SIGKILL/);
});

test('freeze becomes stop where the driver cannot freeze, or nothing serves', async () => {
  const noFreeze = setup({ supportsFreeze: false });
  noFreeze.record.state = 'active';
  assert.equal((await noFreeze.lifecycle.suspend('shop-c1', 'freeze')).state, 'stopped');
  assert.deepEqual(noFreeze.calls, ['suspend shop-c1 stop']);

  const failed = setup();
  failed.record.state = 'failed';
  assert.equal((await failed.lifecycle.suspend('shop-c1', 'freeze')).state, 'stopped');
  assert.deepEqual(failed.calls, ['suspend shop-c1 stop']);
});

test('close cancels a start in flight', async () => {
  const { lifecycle, record } = setup();
  const wake = lifecycle.wake('shop-c1', 5_000);
  await flush();
  await lifecycle.close(false);
  await assert.rejects(wake, /shutting down/);
  assert.equal(record.state, 'failed');
});
