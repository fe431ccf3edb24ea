// Which project a client means, in the documented order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { projectFromSni, resolveRoute } from '../../proxy/routing.js';
import { ClientError } from '../../proxy/client-error.js';

test('the user name <project>.<user> names the project; the compute sees the rest', () => {
  assert.deepEqual(resolveRoute({}, 'shop.app', 'db'), { project: 'shop', backendUser: 'app', database: 'db' });
  assert.deepEqual(resolveRoute({}, 'shop.first.last', null), { project: 'shop', backendUser: 'first.last', database: null });
});

test('a user name without a project says which form to use', () => {
  assert.throws(() => resolveRoute({}, 'app', null), (e: unknown) => e instanceof ClientError && /<project>\.<user>/.test(e.message));
  assert.throws(() => resolveRoute({}, 'Shop.app', null), ClientError, 'project names are lower case');
});

test('SNI with the configured suffix names the project; a disagreeing user name is refused', () => {
  const cfg = { sniSuffix: 'db.example.com' };
  assert.equal(projectFromSni(cfg, 'Shop.DB.example.com'), 'shop');
  assert.equal(projectFromSni(cfg, 'shop.other.com'), undefined);
  assert.equal(projectFromSni({}, 'shop.db.example.com'), undefined);
  assert.deepEqual(resolveRoute(cfg, 'app', null, 'shop.db.example.com'), { project: 'shop', backendUser: 'app', database: null });
  assert.deepEqual(resolveRoute(cfg, 'shop.app', null, 'shop.db.example.com'), { project: 'shop', backendUser: 'app', database: null });
  assert.throws(() => resolveRoute(cfg, 'other.app', null, 'shop.db.example.com'), /names project 'shop' but the user name names project 'other'/);
});

test('with database routing the database may carry the project', () => {
  const cfg = { databaseRouting: true };
  assert.deepEqual(resolveRoute(cfg, 'app', 'shop'), { project: 'shop', backendUser: 'app', database: null });
  assert.deepEqual(resolveRoute(cfg, 'app', 'shop/inventory'), { project: 'shop', backendUser: 'app', database: 'inventory' });
  assert.deepEqual(resolveRoute(cfg, 'shop.app', 'inventory'), { project: 'shop', backendUser: 'app', database: 'inventory' });
  assert.throws(() => resolveRoute(cfg, 'app', null), /or in the database/);
  assert.throws(() => resolveRoute({}, 'app', 'shop'), ClientError, 'off unless enabled');
});

test('a fixed project and a static backend pass user names untouched', () => {
  assert.deepEqual(resolveRoute({ fixedProject: 'side' }, 'shop.app', null), { project: 'side', backendUser: 'shop.app', database: null });
  assert.deepEqual(resolveRoute({ projectOptional: true }, 'shop.app', null), { project: undefined, backendUser: 'shop.app', database: null });
});
