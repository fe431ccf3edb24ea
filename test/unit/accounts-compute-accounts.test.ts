// Which of a compute's accounts become served roles, and the control account's SQL.
// The Priv values are copied from a MariaDB 10.11 mysql.global_priv.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rolesFromGlobalPriv, type GlobalPrivRow } from '../../accounts/compute-accounts.js';
import { CONTROL_USER, controlAccountSql, controlVerifier, generateControlLogin } from '../../control-plane/control-account.js';
import { ownerInitSql } from '../../control-plane/drivers/compute-files.js';
import { initSecret } from '../../control-plane/drivers/kubernetes-manifests.js';

const X = '*B69027D44F6E5EDC07F1AEAD1477967B16F28227';
const Y = '*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19';
const native = (s: string, extra = '') => `{"access":0,"plugin":"mysql_native_password","authentication_string":"${s}"${extra}}`;
const reserved = new Set([CONTROL_USER]);

const TEMPLATE: GlobalPrivRow[] = [
  { user: 'mariadb.sys', host: 'localhost', priv: native('', ',"account_locked":true') },
  { user: 'root', host: 'localhost', priv: native('invalid', ',"auth_or":[{},{"plugin":"unix_socket"}]') },
];

test('a fresh datadir serves only root, by its usable method; locked accounts are left out', () => {
  const { roles } = rolesFromGlobalPriv(TEMPLATE, reserved);
  assert.deepEqual(roles, [{ user: 'root', plugin: 'unix_socket' }]);
});

test('native users carry their verifier, others only their plugin; roles and the control account are left out', () => {
  const rows: GlobalPrivRow[] = [
    ...TEMPLATE,
    { user: 'app', host: '%', priv: native(X) },
    { user: 'nopw', host: '%', priv: native('') },
    { user: 'edu', host: '%', priv: '{"access":0,"plugin":"ed25519","authentication_string":"QaOhX0p9EALElG+7wWkQezcRP1Xq7niwJiF3Xpz3Ukk"}' },
    { user: 'r1', host: '', priv: '{"access":0,"is_role":true}' },
    { user: '', host: '%', priv: native('') },
    { user: CONTROL_USER, host: '127.0.0.1', priv: native(Y) },
    { user: 'broken', host: '%', priv: '{not json' },
  ];
  const { roles, dropped } = rolesFromGlobalPriv(rows, reserved);
  assert.equal(dropped, 0);
  assert.deepEqual(roles, [
    { user: 'app', plugin: 'mysql_native_password', verifier: X },
    { user: 'edu', plugin: 'ed25519' },
    { user: 'nopw', plugin: 'mysql_native_password', verifier: '' },
    { user: 'root', plugin: 'unix_socket' },
  ]);
});

test("the '%' account wins, otherwise the first host in order", () => {
  const rows: GlobalPrivRow[] = [
    { user: 'a', host: 'localhost', priv: native(Y) },
    { user: 'a', host: '%', priv: native(X) },
    { user: 'a', host: '10.%', priv: native(Y) },
    { user: 'b', host: 'localhost', priv: native(Y) },
    { user: 'b', host: '10.%', priv: native(X) },
  ];
  assert.deepEqual(rolesFromGlobalPriv(rows, reserved).roles, [
    { user: 'a', plugin: 'mysql_native_password', verifier: X },
    { user: 'b', plugin: 'mysql_native_password', verifier: X },
  ]);
});

test('an account with alternatives is served by the first method the server tries', () => {
  const edFirst = `{"access":0,"plugin":"mysql_native_password","authentication_string":"${X}","auth_or":[{"plugin":"ed25519","authentication_string":"QaOh"},{}]}`;
  const nativeFirst = `{"access":0,"plugin":"mysql_native_password","authentication_string":"${X}","auth_or":[{},{"plugin":"ed25519","authentication_string":"QaOh"}]}`;
  const unusable = native('invalid');
  const socketFirst = `{"access":0,"plugin":"unix_socket","auth_or":[{},{"plugin":"mysql_native_password","authentication_string":"${X}"}]}`;
  const { roles } = rolesFromGlobalPriv(
    [
      { user: 'ed', host: '%', priv: edFirst },
      { user: 'nat', host: '%', priv: nativeFirst },
      { user: 'none', host: '%', priv: unusable },
      { user: 'sock', host: '%', priv: socketFirst },
    ],
    reserved,
  );
  assert.deepEqual(roles, [
    { user: 'ed', plugin: 'ed25519' },
    { user: 'nat', plugin: 'mysql_native_password', verifier: X },
    { user: 'none', plugin: 'mysql_native_password' },
    { user: 'sock', plugin: 'mysql_native_password', verifier: X },
  ]);
});

test('methods no proxied login can pass are served without a verifier, so the proxy refuses them unwoken', () => {
  const rows: GlobalPrivRow[] = [
    { user: 'old', host: '%', priv: '{"access":0,"plugin":"mysql_old_password","authentication_string":"1234567890abcdef"}' },
    { user: 'sock', host: '%', priv: '{"access":0,"plugin":"unix_socket","authentication_string":""}' },
    { user: 'pipe', host: '%', priv: '{"access":0,"plugin":"named_pipe"}' },
    // A row without a plugin key is read by the server as mysql_native_password.
    { user: 'bare', host: '%', priv: `{"access":0,"authentication_string":"${X}"}` },
    { user: 'empty', host: '%', priv: '{"access":0}' },
  ];
  assert.deepEqual(rolesFromGlobalPriv(rows, reserved).roles, [
    { user: 'bare', plugin: 'mysql_native_password', verifier: X },
    { user: 'empty', plugin: 'mysql_native_password', verifier: '' },
    { user: 'old', plugin: 'mysql_old_password' },
    { user: 'pipe', plugin: 'named_pipe' },
    { user: 'sock', plugin: 'unix_socket' },
  ]);
});

test('a Priv already parsed by the client is read the same as its text', () => {
  const rows: GlobalPrivRow[] = [{ user: 'app', host: '%', priv: JSON.parse(native(X)) as object }];
  assert.deepEqual(rolesFromGlobalPriv(rows, reserved).roles, [{ user: 'app', plugin: 'mysql_native_password', verifier: X }]);
});

test('user names that are object keys are plain names', () => {
  const rows: GlobalPrivRow[] = [{ user: '__proto__', host: '%', priv: native(X) }];
  assert.deepEqual(rolesFromGlobalPriv(rows, reserved).roles, [{ user: '__proto__', plugin: 'mysql_native_password', verifier: X }]);
});

test('the control account may read mysql.global_priv and nothing else', () => {
  const login = generateControlLogin();
  assert.equal(login.user, CONTROL_USER);
  assert.match(login.password, /^[A-Za-z0-9_-]{32}$/);
  const verifier = controlVerifier(login);
  assert.equal(
    controlAccountSql({ user: login.user, host: '127.0.0.1', verifier }),
    `CREATE USER IF NOT EXISTS 'wakeproxy_ctl'@'127.0.0.1' IDENTIFIED BY PASSWORD '${verifier}' WITH MAX_USER_CONNECTIONS 3;\n` +
      `GRANT SELECT ON mysql.global_priv TO 'wakeproxy_ctl'@'127.0.0.1';\n`,
  );
  assert.throws(() => controlAccountSql({ user: login.user, host: "%'; DROP", verifier }), /host/);
  assert.throws(() => controlAccountSql({ user: login.user, host: '%', verifier: login.password }), /verifier/);
  // The init SQL both drivers use holds it after the owner, verifiers only.
  const sql = ownerInitSql('owner', Y, { user: login.user, host: '%', verifier });
  assert.ok(sql.startsWith(`CREATE USER IF NOT EXISTS 'owner'@'%'`));
  assert.ok(sql.includes(`GRANT SELECT ON mysql.global_priv TO 'wakeproxy_ctl'@'%';`));
  assert.ok(!sql.includes(login.password));
});

test("the Kubernetes init Secret creates the control account for any host (the control plane is another pod)", () => {
  const login = generateControlLogin();
  const verifier = controlVerifier(login);
  const req = { computeId: 'c1', projectId: 'shop', ownerUser: 'owner', ownerVerifier: Y, control: { user: login.user, verifier } };
  const secret = initSecret(req, { namespace: 'db', image: 'mariadb:10.11', port: 3306, storageSize: '1Gi' });
  assert.equal(secret.stringData!['owner.sql'], ownerInitSql('owner', Y, { user: login.user, host: '%', verifier }));
});
