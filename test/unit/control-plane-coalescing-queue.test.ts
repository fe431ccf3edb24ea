import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CoalescingQueue } from '../../control-plane/coalescing-queue.js';

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

test('requests matching the running operation join it', async () => {
  const q = new CoalescingQueue();
  const gate = deferred<string>();
  let calls = 0;
  const op = () => {
    calls++;
    return gate.promise;
  };
  const answers = [q.run('resume', op), q.run('resume', op), q.run('resume', op)];
  assert.equal(q.busy, true);
  gate.resolve('up');
  assert.deepEqual(await Promise.all(answers), ['up', 'up', 'up']);
  assert.equal(calls, 1);
  assert.equal(q.busy, false);
});

test('a different operation queues behind, and a repeat after it runs again', async () => {
  const q = new CoalescingQueue();
  const order: string[] = [];
  const gate = deferred<void>();
  const first = q.run('suspend', async () => {
    order.push('suspend start');
    await gate.promise;
    order.push('suspend end');
  });
  const resume1 = q.run('resume', async () => void order.push('resume'));
  const resume2 = q.run('resume', async () => void order.push('resume twice?'));
  const suspendAgain = q.run('suspend', async () => void order.push('suspend again'));
  gate.resolve();
  await Promise.all([first, resume1, resume2, suspendAgain]);
  assert.deepEqual(order, ['suspend start', 'suspend end', 'resume', 'suspend again']);
});

test('a failed operation reaches its callers and does not block the next', async () => {
  const q = new CoalescingQueue();
  const failing = q.run('resume', async () => {
    throw new Error('mariadbd exited');
  });
  const joined = q.run('resume', async () => 'never called');
  await assert.rejects(failing, /mariadbd exited/);
  await assert.rejects(joined, /mariadbd exited/);
  assert.equal(await q.run('resume', async () => 'second try'), 'second try');
});

test('idle waits for everything queued so far', async () => {
  const q = new CoalescingQueue();
  const done: string[] = [];
  void q.run('a', async () => void done.push('a'));
  void q.run('b', async () => {
    throw new Error('b failed');
  }).catch(() => done.push('b'));
  await q.idle();
  assert.deepEqual(done, ['a', 'b']);
  assert.equal(q.busy, false);
});
