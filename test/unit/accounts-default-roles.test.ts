// An account with a default role: its role version moves with whatever its next login
// would take from the role (the role's row, a role granted to it, whether the account
// still has it) and with nothing else; its version, which keys failed-login counts,
// stays the row's. Rows as a MariaDB 10.11 mysql.global_priv and mysql.roles_mapping
// hold them after CREATE ROLE r1, r2; GRANT r2 TO r1; GRANT r1 TO u; SET DEFAULT ROLE r1 FOR u.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { accountsFromRows, anyDefaultRole } from '../../accounts/compute-accounts.js';
import type { RoleGrant } from '../../accounts/default-roles.js';
import { parseRow, type GlobalPrivRow } from '../../accounts/global-priv.js';
import { parseUserAccounts, userAccounts } from '../../accounts/user-accounts.js';
import { DEFAULT_POLICY } from '../../accounts/account.js';

const U = '{"access":0,"version_id":101119,"plugin":"mysql_native_password","authentication_string":"*7B9EBEED26AA52ED10C0F549FA863F13C39E0209","password_last_changed":1796105346,"default_role":"r1"}';
const role = (access: number) => `{"access":${access},"version_id":101119,"is_role":true}`;
const GRANTS: RoleGrant[] = [
  { host: 'localhost', user: 'root', role: 'r1' },
  { host: '', user: 'r1', role: 'r2' },
  { host: '%', user: 'u', role: 'r1' },
];

function u(opts: { r1?: number; r2?: number; r3?: number; grants?: RoleGrant[] | null; userRow?: string } = {}) {
  const rows: GlobalPrivRow[] = [
    { user: 'r1', host: '', priv: role(opts.r1 ?? 0) },
    { user: 'r2', host: '', priv: role(opts.r2 ?? 256) },
    { user: 'r3', host: '', priv: role(opts.r3 ?? 0) },
    { user: 'u', host: '%', priv: opts.userRow ?? U },
    { user: 'plain', host: '%', priv: '{"access":0,"plugin":"mysql_native_password","authentication_string":""}' },
  ];
  const accounts = accountsFromRows(rows, { grants: opts.grants === undefined ? GRANTS : opts.grants, serverUserConnections: 0 });
  return { u: accounts.find((a) => a.user === 'u')!, plain: accounts.find((a) => a.user === 'plain')! };
}

test('the role version moves with the default role, a role granted to it, and the grant itself; the version does not', () => {
  const base = u();
  assert.ok(base.u.roleVersion, 'an account with a default role has one');
  assert.equal(base.plain.roleVersion, undefined, 'an account without has none');
  assert.equal(u().u.roleVersion, base.u.roleVersion, 'the same rows give the same');
  const moved = [
    u({ r1: 1 }), // GRANT SELECT ON *.* TO r1
    u({ r2: 0 }), // REVOKE PROCESS ON *.* FROM r2 (granted to r1)
    u({ grants: GRANTS.filter((g) => g.user !== 'u') }), // REVOKE r1 FROM u
    u({ grants: GRANTS.filter((g) => g.user !== 'r1') }), // REVOKE r2 FROM r1
    u({ grants: [...GRANTS, { host: '', user: 'r2', role: 'r3' }] }), // GRANT r3 TO r2
    u({ userRow: U.replace('"r1"', '"r2"') }), // SET DEFAULT ROLE r2 FOR u
  ];
  for (const [i, m] of moved.entries()) {
    assert.notEqual(m.u.roleVersion, base.u.roleVersion, `change ${i}`);
    if (i < 5) assert.equal(m.u.version, base.u.version, `change ${i} leaves the row's version`);
  }
  assert.equal(u({ r3: 1 }).u.roleVersion, base.u.roleVersion, 'a role it does not reach changes nothing');
  assert.equal(u({ grants: [...GRANTS, { host: '%', user: 'other', role: 'r1' }] }).u.roleVersion, base.u.roleVersion, "another account's grant changes nothing");
});

test('mysql.roles_mapping unread: the role version differs at every read', () => {
  const a = u({ grants: null }).u.roleVersion;
  const b = u({ grants: null }).u.roleVersion;
  assert.ok(a && b);
  assert.notEqual(a, b);
  assert.equal(u({ grants: null }).plain.roleVersion, undefined);
});

test('roles_mapping is needed only when a login activates a role', () => {
  assert.equal(anyDefaultRole([parseRow({ user: 'u', host: '%', priv: U })]), true);
  assert.equal(anyDefaultRole([parseRow({ user: 'r1', host: '', priv: role(0).replace('}', ',"default_role":"r2"}') })]), false, "a role's own row activates nothing at a login");
  assert.equal(anyDefaultRole([parseRow({ user: 'u', host: '%', priv: U.replace('"r1"', '""') })]), false, 'SET DEFAULT ROLE NONE leaves an empty name');
});

test('the role version travels in the control API answer, and a malformed one is refused', () => {
  const answer = JSON.parse(JSON.stringify(userAccounts([u().u], 'u', DEFAULT_POLICY, new Set(), { readAt: '2026-01-01T00:00:00.000Z', names: [] }))) as unknown;
  assert.equal(parseUserAccounts(answer, 'u').candidates[0]!.roleVersion, u().u.roleVersion);
  (answer as { candidates: Array<Record<string, unknown>> }).candidates[0]!.roleVersion = 7;
  assert.throws(() => parseUserAccounts(answer, 'u'), /roleVersion/);
});
