// Where a process-driver compute may run: the kernel's CPU lists read and
// written, as many CPUs as a size needs, placed where the others weigh least,
// and kept where they are while the size still fits them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseCpus, cpusFor, formatCpuList, parseCpuList, placeCpus } from '../../control-plane/drivers/cpu-placement.js';

test('CPU lists in the kernel format', () => {
  assert.deepEqual(parseCpuList('0-3,8,10-11\n'), [0, 1, 2, 3, 8, 10, 11]);
  assert.deepEqual(parseCpuList(''), []);
  assert.equal(formatCpuList([3, 1, 2]), '1,2,3');
  assert.throws(() => parseCpuList('0-a'), /not a CPU list/);
});

test('a size needs its CPU share rounded up, at least one CPU, at most all', () => {
  assert.deepEqual([250, 1000, 1250, 2000, 16_000].map((m) => cpusFor(m, 4)), [1, 1, 2, 2, 4]);
});

test('computes are placed where the others weigh least', () => {
  const all = [0, 1, 2, 3];
  assert.deepEqual(placeCpus(all, [], 1), [0]);
  assert.deepEqual(placeCpus(all, [{ cpus: [0], millicores: 250 }], 1), [1]);
  // A 2-CPU compute on 0-1 at 1.5 CU weighs 750 on each; a 0.25 on 2: the next one goes to 3.
  assert.deepEqual(placeCpus(all, [{ cpus: [0, 1], millicores: 1500 }, { cpus: [2], millicores: 250 }], 1), [3]);
  assert.deepEqual(placeCpus(all, [{ cpus: [0, 1], millicores: 1500 }, { cpus: [2], millicores: 250 }], 2), [2, 3]);
  // Other computes' CPUs that are not available do not count.
  assert.deepEqual(placeCpus([2, 3], [{ cpus: [0, 3], millicores: 2000 }], 1), [2]);
});

test('a resize keeps the CPUs a compute has while they fit, and adds the least loaded when it grows', () => {
  const others = [{ cpus: [1], millicores: 500 }];
  assert.deepEqual(chooseCpus([0, 1, 2, 3], [1], others, 750), [1], 'still one CPU: it stays, even where others are');
  assert.deepEqual(chooseCpus([0, 1, 2, 3], [1], others, 1750), [0, 1], 'two: its own and the least loaded');
  assert.deepEqual(chooseCpus([0, 1, 2, 3], [0, 1, 2], others, 500), [0], 'shrunk: the first of its own');
  assert.deepEqual(chooseCpus([0, 1], [], [], 8000), [0, 1], 'more than there are: all');
});
