import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateOwnerPassword, ownerVerifier } from '../../control-plane/owner-credentials.js';
import { computeView, projectNameProblem, type ComputeRecord } from '../../control-plane/records.js';

test('project names: lowercase letter first, then lowercase letters, digits and dashes, 39 at most', () => {
  for (const ok of ['a', 'shop', 'shop-2', 'a'.repeat(39), 'x-'.repeat(19) + 'x']) {
    assert.equal(projectNameProblem(ok), undefined, ok);
  }
  for (const bad of ['', 'Shop', '2shop', '-shop', 'shop_2', 'shop.eu', 'a'.repeat(40), 'café']) {
    assert.match(projectNameProblem(bad) ?? '', /must start with a lowercase letter/, bad);
  }
  assert.equal(projectNameProblem(undefined), 'project name must be a string');
});

test('a compute shows its address only while active', () => {
  const c: ComputeRecord = {
    id: 'shop-c1',
    projectId: 'shop',
    state: 'frozen',
    endpoint: { host: '127.0.0.1', port: 40000 },
    createdAt: 'then',
    updatedAt: 'now',
    resumeCount: 3,
    version: 7,
    sizeMilli: 500,
  };
  assert.deepEqual(computeView(c), { id: 'shop-c1', projectId: 'shop', state: 'frozen', updatedAt: 'now', resumeCount: 3, cu: 0.5 });
  assert.deepEqual(computeView({ ...c, state: 'active', lastError: 'earlier crash' }), {
    id: 'shop-c1',
    projectId: 'shop',
    state: 'active',
    host: '127.0.0.1',
    port: 40000,
    updatedAt: 'now',
    lastError: 'earlier crash',
    resumeCount: 3,
    cu: 0.5,
  });
  // Where the answer shows the project's range too.
  assert.deepEqual(computeView(c, { minMilli: 250, maxMilli: 2000 }), { id: 'shop-c1', projectId: 'shop', state: 'frozen', updatedAt: 'now', resumeCount: 3, cu: 0.5, minCu: 0.25, maxCu: 2 });
});

test('owner passwords are long, URL-safe and distinct; verifiers are what MariaDB stores', () => {
  const a = generateOwnerPassword();
  assert.match(a, /^[A-Za-z0-9_-]{32}$/);
  assert.notEqual(a, generateOwnerPassword());
  // SELECT PASSWORD('password') on MariaDB 10.11.
  assert.equal(ownerVerifier('password'), '*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19');
});
