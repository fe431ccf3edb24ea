// ProjectLimits.mayAdmit: what a session looks at before its client's handshake (to open
// a compute connection at accept) answers as the admission after it would, and takes nothing.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { ProjectLimits } from '../../proxy/limits.js';

const made: ProjectLimits[] = [];
after(() => made.forEach((l) => l.close()));

function limits(cfg: ConstructorParameters<typeof ProjectLimits>[0]): ProjectLimits {
  const l = new ProjectLimits(cfg);
  made.push(l);
  return l;
}

test('no limits: every client may be admitted', () => {
  const l = limits({});
  assert.equal(l.mayAdmit('shop', 'shop', '10.0.0.1'), true);
  assert.equal(l.mayAdmit('(static)', undefined, '10.0.0.1'), true);
});

test('a project at its connection limit may not, until a slot is given back', () => {
  const l = limits({ maxConnectionsPerProject: 1 });
  const release = l.admitConnection('shop');
  assert.equal(l.mayAdmit('shop', 'shop', '10.0.0.1'), false);
  assert.throws(() => l.admitConnection('shop'));
  assert.equal(l.mayAdmit('other', 'other', '10.0.0.1'), true);
  // Without a project (a static backend) the per-project limits do not apply, as in the session.
  assert.equal(l.mayAdmit('shop', undefined, '10.0.0.1'), true);
  release();
  assert.equal(l.mayAdmit('shop', 'shop', '10.0.0.1'), true);
});

test('a spent connection rate may not; looking takes no token', () => {
  const l = limits({ connectionRatePerProject: 2 });
  for (let i = 0; i < 5; i++) assert.equal(l.mayAdmit('shop', 'shop', '10.0.0.1'), true);
  l.admitConnection('shop')();
  l.admitConnection('shop')();
  assert.equal(l.mayAdmit('shop', 'shop', '10.0.0.1'), false);
  assert.throws(() => l.admitConnection('shop'));
});

test('an address over its failed logins may not, for that project key only', () => {
  const l = limits({ maxAuthFailuresPerMinute: 2 });
  l.recordAuthFailure('(static)', '10.0.0.1');
  assert.equal(l.mayAdmit('(static)', undefined, '10.0.0.1'), true);
  l.recordAuthFailure('(static)', '10.0.0.1');
  assert.equal(l.mayAdmit('(static)', undefined, '10.0.0.1'), false);
  assert.throws(() => l.checkAuthFailures('(static)', '10.0.0.1'));
  assert.equal(l.mayAdmit('(static)', undefined, '10.0.0.2'), true);
  assert.equal(l.mayAdmit('shop', 'shop', '10.0.0.1'), true);
});
