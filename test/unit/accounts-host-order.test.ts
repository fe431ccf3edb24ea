// Host matching and account order, table-driven. The expectations were taken from
// MariaDB 10.11.19 with --skip-name-resolve: accounts 'o'@<pattern> all with one
// password, logging in from 127.0.0.1 and dropping whichever CURRENT_USER() named,
// until none was left (the integration test proxy-account-selection repeats it live).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostMatches, normalizeIp, wildMatch } from '../../accounts/host-match.js';
import { compareAccounts, pickAccount, sortAccounts, specificity } from '../../accounts/account-order.js';

/** The server's order of the patterns that admit 127.0.0.1, most specific first. */
const SERVER_ORDER = [
  '127.0.0.1/255.255.255.255',
  '127.0.0.1',
  '127.0.0.0/255.0.0.0',
  '127.0.0._',
  '___.0.0.1',
  '12%.0.0.1',
  '127.0.0.%',
  '%7.0.0.1',
  '127.0%1',
  '127.%',
  '1_7.%',
  '%.0.%',
  '%.1',
  '%1',
  '1%',
  '%',
];

test('the patterns the server found admitting 127.0.0.1 admit it here, and the one it refused does not', () => {
  for (const p of SERVER_ORDER) assert.equal(hostMatches(p, '127.0.0.1'), true, p);
  // The network part is compared unmasked, and CIDR suffixes mean nothing to 10.11.
  for (const p of ['127.0.0.1/255.255.255.0', '127.0.0.0/8', 'localhost', '127.0.0.2', '127.0.0.1 ', '']) {
    assert.equal(hostMatches(p, '127.0.0.1'), p === '', JSON.stringify(p));
  }
});

test('host matching: wildcards, escapes, masks and case', () => {
  const cases: Array<[string, string, boolean]> = [
    ['10.0.0.%', '10.0.0.5', true],
    ['10.0.0.%', '10.0.1.5', false],
    ['10.0.0._', '10.0.0.5', true],
    ['10.0.0._', '10.0.0.55', false],
    ['10.0.0.\\%', '10.0.0.%', true],
    ['10.0.0.\\%', '10.0.0.5', false],
    ['10\\_0.0.1', '10_0.0.1', true],
    ['10\\_0.0.1', '1000.0.1', false],
    ['a\\', 'a\\', true],
    ['%%', '1.2.3.4', true],
    ['%.%.%.%', '1.2.3.4', true],
    ['%.%.%.%.%', '1.2.3.4', false],
    ['10.0.0.0/255.255.255.0', '10.0.0.200', true],
    ['10.0.0.0/255.255.255.0', '10.0.1.1', false],
    ['10.0.0.0/255.0.0.0', '10.200.3.4', true],
    [' 10.0.0.0/255.0.0.0', '10.1.1.1', true],
    ['10.0.0.0/0.0.0.0', '10.0.0.0/0.0.0.0', true],
    ['10.0.0.0/255.0.0.0', '::1', false],
    ['fe80::%', 'fe80::1', true],
    ['FE80::%', 'fe80::1', false],
    ['::1', '::1', true],
  ];
  for (const [pattern, ip, want] of cases) assert.equal(hostMatches(pattern, ip), want, `${pattern} vs ${ip}`);
  assert.equal(normalizeIp('::ffff:10.1.2.3'), '10.1.2.3');
  assert.equal(normalizeIp('::1'), '::1');
  assert.equal(wildMatch('abc', 'a%c%'), true);
  assert.equal(wildMatch('ab', 'a_c'), false);
});

test("accounts sort as the server sorts them: by user, then most specific host, then host descending", () => {
  const shuffled = [...SERVER_ORDER].reverse().map((host) => ({ user: 'o', host }));
  assert.deepEqual(sortAccounts(shuffled).map((a) => a.host), SERVER_ORDER);
  // 'localhost' before the loopback addresses at equal specificity; users by bytes, anonymous first.
  const mixed = sortAccounts([
    { user: 'root', host: '127.0.0.1' },
    { user: 'root', host: 'localhost' },
    { user: 'root', host: '::1' },
    { user: 'b', host: '%' },
    { user: '', host: '%' },
    { user: 'B', host: '%' },
    { user: 'é', host: '%' },
  ]);
  assert.deepEqual(mixed.map((a) => `${a.user}@${a.host}`), ['@%', 'B@%', 'b@%', 'root@localhost', 'root@::1', 'root@127.0.0.1', 'é@%']);
  assert.ok(compareAccounts({ user: 'x', host: '10.0.0.1' }, { user: 'x', host: '10.%' }) < 0);
  assert.ok(specificity('%', '') > specificity('%', 'x'), 'an anonymous account ranks after a named one on the same host');
});

test('which account a login gets: the first of its own that admits the address, unless an anonymous one is more specific', () => {
  const accounts = sortAccounts([
    { user: 'app', host: '%' },
    { user: 'app', host: '10.0.0.%' },
    { user: '', host: '10.0.0.7' },
    { user: '', host: '%' },
    { user: 'other', host: '10.0.0.7' },
  ]);
  const pick = (user: string, ip: string) => {
    const a = pickAccount(accounts, user, ip);
    return a ? `${a.user}@${a.host}` : undefined;
  };
  assert.equal(pick('app', '10.0.0.5'), 'app@10.0.0.%');
  assert.equal(pick('app', '192.168.1.1'), 'app@%');
  assert.equal(pick('app', '10.0.0.7'), '@10.0.0.7', 'an exact anonymous host shadows app@10.0.0.%');
  assert.equal(pick('nobody', '1.2.3.4'), '@%');
  assert.equal(pick('nobody', '10.0.0.7'), '@10.0.0.7');
  assert.equal(pick('', '1.2.3.4'), '@%');
  const noAnon = accounts.filter((a) => a.user !== '');
  assert.equal(pickAccount(noAnon, 'nobody', '1.2.3.4'), undefined);
  // Equal specificity: the named account wins over the anonymous one.
  assert.equal(pickAccount(sortAccounts([{ user: '', host: '%' }, { user: 'app', host: '%' }]), 'app', '1.1.1.1')!.user, 'app');
});
