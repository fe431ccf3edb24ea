import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { StoredCodeRegistry } from '../../proxy/stored-code-registry.js';
import type { RoleVerifierClient } from '../../control-client/verifiers.js';
import type { UserAccounts } from '../../accounts/account.js';
import { DEFAULT_POLICY } from '../../accounts/account.js';
import type { StoredCode } from '../../accounts/stored-code.js';

const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();

function setup(answers: StoredCode[]) {
  const lines: Array<{ msg: string; project?: string }> = [];
  const asked: string[] = [];
  const verifiers: RoleVerifierClient = {
    async get(project, user): Promise<UserAccounts> {
      asked.push(`${project}/${user}`);
      return { user, candidates: [], policy: DEFAULT_POLICY, storedCode: answers.shift()! };
    },
    async refresh() {
      throw new Error('not asked');
    },
    invalidate() {},
    async close() {},
  };
  const logger = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l)) });
  return { registry: new StoredCodeRegistry({ verifiers, logger, refreshMs: 1_000, maxIdle: 4 }), lines, asked };
}

test("a project's sessions share one set of names, told by every login's answer; an older read changes nothing", () => {
  const { registry } = setup([]);
  const a = registry.join('shop', { readAt: at(1), names: ['f'] });
  const b = registry.join('shop', { readAt: at(0), names: [] });
  assert.equal(a, b);
  assert.deepEqual([...a.names.names!], ['f']);
  assert.equal(registry.join('other', { readAt: at(2), names: [] }).names.names, null);
});

test('unknown stored code is said once per project, and again only after it was known', () => {
  const { registry, lines } = setup([]);
  const warned = () => lines.filter((l) => /stored code is not known/.test(l.msg)).length;
  const p = registry.join('legacy', { readAt: at(1), names: null, reason: 'no procedure' });
  registry.join('legacy', { readAt: at(2), names: null, reason: 'no procedure' });
  assert.equal(p.names.known, false);
  assert.equal(warned(), 1);
  registry.join('legacy', { readAt: at(3), names: [] });
  assert.equal(p.names.known, true);
  assert.ok(lines.some((l) => /known again/.test(l.msg)));
  registry.join('legacy', { readAt: at(4), names: null, reason: 'dropped' });
  assert.equal(warned(), 2);
});

test('a borrow asks for the answer again once due, one at a time, as the session\'s user', async () => {
  const { registry, asked } = setup([{ readAt: at(5), names: ['g'] }]);
  const p = registry.join('shop', { readAt: at(1), names: [] });
  const now = performance.now();
  p.borrowed('app', now);
  assert.deepEqual(asked, [], 'not due yet');
  p.borrowed('app', now + 2_000);
  p.borrowed('app', now + 2_001);
  assert.deepEqual(asked, ['shop/app'], 'one refresh at a time');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual([...p.names.names!], ['g']);
});

test('projects with no session go once too many are kept; those with sessions stay', () => {
  const { registry } = setup([]);
  const kept = registry.join('p0', { readAt: at(1), names: ['f'] });
  for (let i = 1; i < 10; i++) registry.leave(registry.join(`p${i}`, { readAt: at(1), names: [] }));
  assert.equal(registry.join('p0', undefined), kept, 'a project with a session is never dropped');
});
