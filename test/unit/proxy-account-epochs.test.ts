// The version a pooled connection is keyed by moves whenever the account's version
// changes on this proxy, back to an earlier value too, and only then.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AccountEpochs } from '../../proxy/account-epochs.js';
import { plainAccount } from '../../accounts/account.js';

const account = (version: string, roleVersion?: string) => ({ ...plainAccount('u', '%', [], version), ...(roleVersion ? { roleVersion } : {}) });

test('a version seen again after another gets a new key; the same version in a new answer keeps its key', () => {
  const e = new AccountEpochs();
  const v1 = e.keyVersion('shop', account('v1'));
  assert.equal(e.keyVersion('shop', account('v1')), v1, 'a new read with the same row');
  const v2 = e.keyVersion('shop', account('v2'));
  assert.notEqual(v2, v1);
  const back = e.keyVersion('shop', account('v1'));
  assert.notEqual(back, v1, 'back to the first row: not the connections made before');
  assert.ok(back.startsWith('v1~'));
  assert.notEqual(e.keyVersion('shop', account('v1', 'r1')), back, "the default role's version counts");
  assert.notEqual(e.keyVersion('other', account('v1')), back, 'another project: its own account');
});

test('logins judged by an older cached answer keep that answer\'s key', () => {
  const e = new AccountEpochs();
  const old = account('v1');
  const k1 = e.keyVersion('shop', old);
  e.keyVersion('shop', account('v2'));
  assert.equal(e.keyVersion('shop', old), k1);
});
