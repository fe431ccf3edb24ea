// `npm run bench -- --pin`: the plan, the flag's refusal beside --workers, and a real
// process moved with taskset (read back from /proc).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { planPlacement, pinProcess } from '../../bench/placement.js';
import { parseBenchOptions } from '../../bench/options.js';

test('contenders get the last CPU and the rest the others', () => {
  assert.deepEqual(planPlacement(2), { contenders: [1], rest: [0] });
  assert.deepEqual(planPlacement(4), { contenders: [3], rest: [0, 1, 2] });
  assert.throws(() => planPlacement(1), /at least 2 CPUs/);
});

test('--pin is off by default and refused with --workers', () => {
  const plain = parseBenchOptions(['--quick']);
  assert.ok(plain !== 'help');
  assert.equal(plain.pin, false);
  const pinned = parseBenchOptions(['--quick', '--pin']);
  assert.ok(pinned !== 'help');
  assert.equal(pinned.pin, true);
  assert.throws(() => parseBenchOptions(['--pin', '--workers', '2']), /not with --workers/);
});

test('a process is moved, every thread of it, to the CPUs given', async () => {
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  try {
    await pinProcess(child.pid!, [0]);
    const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
    assert.match(status, /^Cpus_allowed_list:\s*0$/m);
    await assert.rejects(pinProcess(child.pid!, [4096]), /taskset could not place process/);
  } finally {
    child.kill('SIGKILL');
  }
});
