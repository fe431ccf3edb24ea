import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { computePaths, ownerInitSql } from '../../control-plane/drivers/compute-files.js';
import { meaningfulLines } from '../../control-plane/drivers/mariadbd-launch.js';

const VERIFIER = '*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19';

test('the owner init file creates the account from its verifier', () => {
  assert.equal(
    ownerInitSql('owner', VERIFIER),
    `CREATE USER IF NOT EXISTS 'owner'@'%' IDENTIFIED BY PASSWORD '${VERIFIER}';\n` +
      `GRANT ALL PRIVILEGES ON *.* TO 'owner'@'%' WITH GRANT OPTION;\n`,
  );
});

test('values that could break out of the SQL literals are refused', () => {
  assert.throws(() => ownerInitSql("own'er", VERIFIER), /owner user name/);
  assert.throws(() => ownerInitSql('owner', "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E1'"), /verifier/);
  assert.throws(() => ownerInitSql('owner', 'password'), /verifier/);
});

test('compute ids cannot name paths outside the data dir', () => {
  for (const id of ['../etc', 'a/b', '', 'Shop-c1', '.hidden']) {
    assert.throws(() => computePaths('/var/lib/wake-proxy', id), /not a valid compute id/, id);
  }
  const p = computePaths('/var/lib/wake-proxy', 'shop-c1');
  assert.equal(p.data, '/var/lib/wake-proxy/computes/shop-c1/data');
  assert.equal(p.socket, '/var/lib/wake-proxy/computes/shop-c1/mysqld.sock');
});

test('a socket path too long for sun_path moves to the temp dir', () => {
  const p = computePaths(`/srv/${'deep/'.repeat(20)}wake-proxy`, 'shop-c1');
  assert.ok(p.socket.startsWith(tmpdir()), p.socket);
  assert.ok(p.socket.length < 100);
});

test('the lines that explain a failed start are picked from the log', () => {
  const log = [
    "2026-11-23 10:14:17 0 [Warning] Could not increase number of max_open_files to more than 20000 (request: 32184)",
    "2026-11-23 10:14:17 0 [Note] Starting MariaDB 10.11.19-MariaDB-0+deb12u1 as process 6049",
    "2026-11-23 10:14:17 0 [Warning] Can't create test file '/d/vm.lower-test' (Errcode: 20 \"Not a directory\")",
    "\u0007/usr/sbin/mariadbd: Can't change dir to '/d/' (Errcode: 20 \"Not a directory\")",
    '2026-11-23 10:14:17 0 [ERROR] Aborting',
    '',
  ].join('\n');
  assert.deepEqual(meaningfulLines(log), [
    "[Warning] Can't create test file '/d/vm.lower-test' (Errcode: 20 \"Not a directory\")",
    "/usr/sbin/mariadbd: Can't change dir to '/d/' (Errcode: 20 \"Not a directory\")",
  ]);
  assert.deepEqual(meaningfulLines('2026-11-23 10:14:17 0 [Note] only notes\n'), ['[Note] only notes']);
  assert.deepEqual(meaningfulLines(''), []);
});
