// The per-connection statement cache (least recently used out, never a held one) and a
// client's statement table (ids, "the last prepared", what holds its connection).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConnectionStatements } from '../../relay/connection-statements.js';
import { ClientStatements } from '../../relay/client-statements.js';

test('a connection keeps at most its limit, closing the least recently used but never a held one', () => {
  const c = new ConnectionStatements(2);
  assert.deepEqual(c.add('a', 1).close, []);
  assert.deepEqual(c.add('b', 2).close, []);
  c.get('a'); // b is now the least recently used
  assert.deepEqual(c.add('c', 3).close, [2]);
  assert.equal(c.get('b'), undefined);
  c.get('a')!.holders = 1;
  c.get('c');
  // a was used before c, but it is held: c goes.
  assert.deepEqual(c.add('d', 4).close, [3]);
  // The same text prepared again: the older statement stays, the new id is closed.
  const again = c.add('d', 5);
  assert.equal(again.statement.id, 4);
  assert.deepEqual(again.close, [5]);
  assert.deepEqual(c.shed(5), [4]);
  assert.equal(c.size, 1);
  // Where a client statement went last is taken without a lookup only while it is still there.
  const d = again.statement;
  assert.equal(d.evicted, true);
  assert.equal(c.get('d', d), undefined, 'evicted: looked up, and gone');
  const e = c.add('e', 6).statement;
  assert.equal(c.get('e', e), e);
  const other = new ConnectionStatements(2);
  const e2 = other.add('e', 7).statement;
  assert.equal(c.get('e', e2), e, "another connection's statement is not this one's");
});

test('a client table: ids from 1, the last prepared, long data and cursors hold, close and clear', () => {
  const t = new ClientStatements();
  const base = { sql: Buffer.from('SELECT ?'), key: 'SELECT ?', context: '', verdict: { pin: null, autocommitOnly: false }, codeGeneration: 0, params: 1, columns: 1 };
  const a = t.add(base);
  const b = t.add(base);
  assert.deepEqual([a.id, b.id], [1, 2]);
  assert.equal(t.last, b);
  const where = new ConnectionStatements(4).add('SELECT ?', 9).statement;
  t.setLongData(a, true, where);
  t.setCursor(a, true, where);
  assert.equal(t.busy, true);
  assert.equal(where.holders, 1);
  t.setLongData(a, false, null);
  assert.equal(t.busy, true, 'the cursor still holds');
  t.close(a);
  assert.equal(t.busy, false);
  assert.equal(where.holders, 0);
  assert.equal(t.get(1), undefined);
  t.clear();
  assert.equal(t.last, null);
  assert.equal(t.size, 0);
});
