// How mysql.global_priv rows become accounts, and the control account's SQL.
// The Priv values are copied from a MariaDB 10.11 mysql.global_priv.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { accountFromRow, type GlobalPrivRow } from '../../accounts/global-priv.js';
import { accountsFromRows, policyFromRow, serverUserConnectionsFromRow } from '../../accounts/compute-accounts.js';
import { parseUserAccounts, userAccounts } from '../../accounts/user-accounts.js';
import { DEFAULT_POLICY } from '../../accounts/account.js';
import { storedCodeProcedureSql } from '../../accounts/stored-code.js';
import { CONTROL_USER, controlAccountSql, controlVerifier, generateControlLogin } from '../../control-plane/control-account.js';
import { ownerInitSql } from '../../control-plane/drivers/compute-files.js';
import { initSecret } from '../../control-plane/drivers/kubernetes-manifests.js';

const X = '*B69027D44F6E5EDC07F1AEAD1477967B16F28227';
const CODE = { readAt: '2026-01-01T00:00:00.000Z', names: ['f'] };
const Y = '*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19';
const native = (s: string, extra = '') => `{"access":0,"plugin":"mysql_native_password","authentication_string":"${s}"${extra}}`;
const methods = (row: GlobalPrivRow) => accountFromRow(row)?.methods;

test('roles are no accounts; everything else is kept, locked and unreadable rows included', () => {
  const rows: GlobalPrivRow[] = [
    { user: 'mariadb.sys', host: 'localhost', priv: native('', ',"account_locked":true,"password_last_changed":0') },
    { user: 'root', host: 'localhost', priv: native('invalid', ',"auth_or":[{},{"plugin":"unix_socket"}]') },
    { user: 'r1', host: '', priv: '{"access":0,"is_role":true}' },
    { user: 'broken', host: '%', priv: '{not json' },
    { user: '', host: '%', priv: native('') },
  ];
  const accounts = accountsFromRows(rows);
  assert.deepEqual(accounts.map((a) => `${a.user}@${a.host}`), ['@%', 'broken@%', 'mariadb.sys@localhost', 'root@localhost']);
  const sys = accounts.find((a) => a.user === 'mariadb.sys')!;
  assert.equal(sys.locked, true);
  assert.equal(sys.passwordExpired, true);
  assert.deepEqual(accounts.find((a) => a.user === 'broken')!.methods, []);
});

test('methods in the order the server tries them; a native string that is no hash has no verifier', () => {
  const edFirst = `{"access":0,"plugin":"mysql_native_password","authentication_string":"${X}","auth_or":[{"plugin":"ed25519","authentication_string":"QaOh"},{}]}`;
  const socketFirst = `{"access":0,"plugin":"unix_socket","auth_or":[{},{"plugin":"mysql_native_password","authentication_string":"${X}"}]}`;
  assert.deepEqual(methods({ user: 'a', host: '%', priv: edFirst }), [{ plugin: 'ed25519' }, { plugin: 'mysql_native_password', verifier: X }]);
  assert.deepEqual(methods({ user: 'a', host: '%', priv: socketFirst }), [{ plugin: 'unix_socket' }, { plugin: 'mysql_native_password', verifier: X }]);
  assert.deepEqual(methods({ user: 'a', host: '%', priv: native('invalid', ',"auth_or":[{},{"plugin":"unix_socket"}]') }), [
    { plugin: 'mysql_native_password' },
    { plugin: 'unix_socket' },
  ]);
  // A row without a plugin key, or without anything, is read by the server as mysql_native_password.
  assert.deepEqual(methods({ user: 'a', host: '%', priv: `{"access":0,"authentication_string":"${X.toLowerCase()}"}` }), [
    { plugin: 'mysql_native_password', verifier: X },
  ]);
  assert.deepEqual(methods({ user: 'a', host: '%', priv: '{"access":18446744073709551615}' }), [{ plugin: 'mysql_native_password', verifier: '' }]);
  assert.deepEqual(methods({ user: 'a', host: '%', priv: '{"access":0,"plugin":"mysql_old_password","authentication_string":"1234567890abcdef"}' }), [
    { plugin: 'mysql_old_password' },
  ]);
});

test('lock, expiry, TLS and the max_password_errors exemption are read as the server reads them', () => {
  const a = (host: string, priv: string) => accountFromRow({ user: 'u', host, priv })!;
  // Copied from CREATE USER ... ACCOUNT LOCK / PASSWORD EXPIRE / REQUIRE SSL PASSWORD EXPIRE INTERVAL 5 DAY.
  assert.equal(a('%', native(X, ',"account_locked":true,"password_last_changed":1795991241')).locked, true);
  const expired = a('%', native(X, ',"password_last_changed":0,"password_lifetime":-1'));
  assert.equal(expired.passwordExpired, true);
  const ssl = a('10.%', native(X, ',"ssl_type":1,"ssl_cipher":"","password_last_changed":1795991243,"password_lifetime":5'));
  assert.deepEqual([ssl.ssl, ssl.passwordLifetime, ssl.passwordLastChanged, ssl.passwordExpired], ['any', 5, 1795991243, false]);
  assert.equal(a('%', native(X, ',"ssl_type":2')).ssl, 'x509');
  // No password_last_changed: 0 for the age check, but not "expired"; no lifetime: the server default.
  const bare = a('%', '{"access":0}');
  assert.deepEqual([bare.passwordExpired, bare.passwordLastChanged, bare.passwordLifetime], [false, 0, -1]);
  // CONNECTION ADMIN (1<<32) exempts only loopback hosts; SUPER only in rows older than 10.5.2.
  assert.equal(a('localhost', '{"access":4294967296,"version_id":101119}').neverBlocked, true);
  assert.equal(a('%', '{"access":4294967296,"version_id":101119}').neverBlocked, false);
  assert.equal(a('127.0.0.1', '{"access":32768,"version_id":101119}').neverBlocked, false);
  assert.equal(a('127.0.0.1', '{"access":32768,"version_id":100409}').neverBlocked, true);
  assert.equal(a('::1', '{"access":18446744073709551615}').neverBlocked, true);
});

test('an account\'s version changes with its row and only with it', () => {
  const v = (priv: string, host = '%') => accountFromRow({ user: 'u', host, priv })!.version;
  assert.equal(v(native(X)), v(native(X)));
  assert.equal(v(native(X)), accountFromRow({ user: 'u', host: '%', priv: JSON.parse(native(X)) as object })!.version);
  assert.notEqual(v(native(X)), v(native(Y)));
  assert.notEqual(v(native(X)), v(native(X, ',"account_locked":true')));
  assert.notEqual(v(native(X)), v(native(X, ',"password_last_changed":0')));
  assert.notEqual(v(native(X)), v(native(X), 'localhost'));
});

test('a user is served its own accounts and the anonymous ones; reserved names without methods', () => {
  const accounts = accountsFromRows([
    { user: 'app', host: '%', priv: native(X) },
    { user: 'app', host: '10.0.0.%', priv: native(Y) },
    { user: '', host: 'localhost', priv: native('') },
    { user: 'other', host: '%', priv: native(X) },
    { user: CONTROL_USER, host: '127.0.0.1', priv: native(Y) },
    { user: '__proto__', host: '%', priv: native(X) },
  ]);
  const reserved = new Set([CONTROL_USER]);
  const app = userAccounts(accounts, 'app', DEFAULT_POLICY, reserved, CODE);
  assert.deepEqual(app.candidates.map((a) => `${a.user}@${a.host}`), ['app@10.0.0.%', 'app@%', '@localhost']);
  assert.deepEqual(app.storedCode, CODE, "every answer carries the compute's stored code that pins");
  const ctl = userAccounts(accounts, CONTROL_USER, DEFAULT_POLICY, reserved, CODE);
  assert.deepEqual(ctl.candidates[0]!.methods, []);
  assert.equal(JSON.stringify(ctl).includes(Y), false, 'the control account hash never leaves');
  assert.deepEqual(userAccounts(accounts, "'app'", DEFAULT_POLICY, reserved, CODE).candidates.length, 3, 'quotes around a name go');
  assert.equal(userAccounts(accounts, '__proto__', DEFAULT_POLICY, reserved, CODE).candidates[0]!.user, '__proto__');
});

test('the login settings are read strictly', () => {
  assert.deepEqual(policyFromRow({ l: 0, d: 0, m: 4294967295 }), DEFAULT_POLICY);
  assert.deepEqual(policyFromRow({ l: '30', d: 1, m: 3 }), { defaultPasswordLifetime: 30, disconnectOnExpiredPassword: true, maxPasswordErrors: 3 });
  for (const bad of [undefined, { l: -1, d: 0, m: 3 }, { l: 0, d: 2, m: 3 }, { l: 0, d: 0, m: 0 }, { l: null, d: 0, m: 3 }]) {
    assert.throws(() => policyFromRow(bad as never), /unexpected server settings/);
  }
});

test('the control account may read mysql.global_priv and mysql.roles_mapping, kill statements and call the two resize procedures and the stored-code one, nothing else', () => {
  const login = generateControlLogin();
  assert.equal(login.user, CONTROL_USER);
  assert.match(login.password, /^[A-Za-z0-9_-]{32}$/);
  const verifier = controlVerifier(login);
  assert.equal(
    controlAccountSql({ user: login.user, host: '127.0.0.1', verifier }),
    `CREATE USER IF NOT EXISTS 'wakeproxy_ctl'@'127.0.0.1' IDENTIFIED BY PASSWORD '${verifier}' WITH MAX_USER_CONNECTIONS 6;\n` +
      `GRANT SELECT ON mysql.global_priv TO 'wakeproxy_ctl'@'127.0.0.1';\n` +
      `GRANT SELECT ON mysql.roles_mapping TO 'wakeproxy_ctl'@'127.0.0.1';\n` +
      `GRANT CONNECTION ADMIN ON *.* TO 'wakeproxy_ctl'@'127.0.0.1';\n` +
      "CREATE DEFINER = 'root'@'localhost' PROCEDURE IF NOT EXISTS mysql.wakeproxy_set_buffer_pool(IN bytes BIGINT UNSIGNED) SQL SECURITY DEFINER SET GLOBAL innodb_buffer_pool_size = bytes;\n" +
      "CREATE DEFINER = 'root'@'localhost' PROCEDURE IF NOT EXISTS mysql.wakeproxy_set_max_connections(IN n INT UNSIGNED) SQL SECURITY DEFINER SET GLOBAL max_connections = n;\n" +
      "GRANT EXECUTE ON PROCEDURE mysql.wakeproxy_set_buffer_pool TO 'wakeproxy_ctl'@'127.0.0.1';\n" +
      "GRANT EXECUTE ON PROCEDURE mysql.wakeproxy_set_max_connections TO 'wakeproxy_ctl'@'127.0.0.1';\n" +
      storedCodeProcedureSql("'root'@'localhost'") +
      "\nGRANT EXECUTE ON PROCEDURE mysql.wakeproxy_stored_code TO 'wakeproxy_ctl'@'127.0.0.1';\n",
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

test('an account with any resource limit, or every account under the server max_user_connections, is resource-limited', () => {
  const limited = (extra: string, serverUserConnections = 0) =>
    accountsFromRows([{ user: 'u', host: '%', priv: native(X, extra) }], { grants: [], serverUserConnections })[0]!.resourceLimited;
  assert.equal(limited(''), false);
  assert.equal(limited(',"max_user_connections":0,"max_questions":0,"max_updates":0,"max_connections":0,"max_statement_time":5.000000'), false, 'zeros, and a statement time, limit nothing counted');
  for (const key of ['max_user_connections', 'max_connections', 'max_questions', 'max_updates']) assert.equal(limited(`,"${key}":3`), true, key);
  assert.equal(limited(',"max_user_connections":-1'), true, '-1: no connection at all');
  assert.equal(limited('', 10), true);
  assert.equal(serverUserConnectionsFromRow({ u: 0 }), 0);
  assert.equal(serverUserConnectionsFromRow({ u: '25' }), 25);
  for (const bad of [undefined, { u: -1 }, { u: null }, { u: 'x' }]) assert.throws(() => serverUserConnectionsFromRow(bad as never), /max_user_connections/);
});

test('an answer without resourceLimited (from an older control plane) is taken as limited', () => {
  const answer = JSON.parse(JSON.stringify(userAccounts(accountsFromRows([{ user: 'u', host: '%', priv: native(X) }]), 'u', DEFAULT_POLICY, new Set(), CODE))) as {
    candidates: Array<Record<string, unknown>>;
  };
  assert.equal(parseUserAccounts(answer, 'u').candidates[0]!.resourceLimited, false);
  delete answer.candidates[0]!.resourceLimited;
  assert.equal(parseUserAccounts(answer, 'u').candidates[0]!.resourceLimited, true);
  answer.candidates[0]!.resourceLimited = 'no';
  assert.throws(() => parseUserAccounts(answer, 'u'), /resourceLimited/);
});

test("an account's MAX_STATEMENT_TIME is carried as seconds with six decimals, and checked when it comes back", () => {
  const time = (extra: string) => accountFromRow({ user: 'u', host: '%', priv: native(X, extra) })!.statementTime;
  assert.equal(time(''), undefined);
  assert.equal(time(',"max_statement_time":0.000000'), undefined);
  assert.equal(time(',"max_statement_time":5.000000'), '5.000000');
  assert.equal(time(',"max_statement_time":0.25'), '0.250000');
  assert.equal(time(',"max_statement_time":"5; DROP"'), undefined, 'not a number: none');
  const answer = JSON.parse(JSON.stringify(userAccounts(accountsFromRows([{ user: 'u', host: '%', priv: native(X, ',"max_statement_time":5.000000') }]), 'u', DEFAULT_POLICY, new Set(), CODE))) as {
    candidates: Array<Record<string, unknown>>;
  };
  assert.equal(parseUserAccounts(answer, 'u').candidates[0]!.statementTime, '5.000000');
  answer.candidates[0]!.statementTime = '5; SET GLOBAL x = 1';
  assert.throws(() => parseUserAccounts(answer, 'u'), /statementTime/);
});
