import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  NativeVerifier,
  formatNativeVerifier,
  generateScramble,
  nativePasswordStage1,
  nativePasswordVerifier,
  parseNativeVerifier,
  scrambleNativePassword,
  tokenFromStage1,
  verifyNativePassword,
} from '../../protocol/auth/native-password.js';
import { ProtocolError } from '../../protocol/protocol-error.js';

const hex = (s: string): Buffer => Buffer.from(s, 'hex');

// mysql.global_priv of a MariaDB 10.11 account created with IDENTIFIED BY 'secret', and
// tokens that real clients sent for it and the server accepted, with the scramble each answered.
const SECRET_VERIFIER = '*14E65567ABDB5135D0CFD9A70B3032C179A49EE7';
const REAL_LOGINS = [
  {
    client: 'libmariadb (greeting)',
    scramble: '4a3462733a66753a5f525a4d55412842545d577c',
    token: '44665e272594b0162fb21c607e6f5d25d3e74a23',
  },
  {
    client: 'libmariadb (auth switch)',
    scramble: '4e444c304a653c3c5724487e64586e423d483672',
    token: 'bbb751790f0ea4e97e1dd121c01ad60047171e84',
  },
  {
    client: 'mysql2',
    scramble: '3a7a7664712b7d5923415f3c4d4c752b73245359',
    token: 'a4990a92d302f4dc2f11e0a758a663c9ee667214',
  },
];

test('known verifiers match what MariaDB stores', () => {
  assert.equal(formatNativeVerifier(nativePasswordVerifier('password')), '*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19');
  assert.equal(formatNativeVerifier(nativePasswordVerifier('secret')), SECRET_VERIFIER);
  assert.equal(formatNativeVerifier(nativePasswordVerifier(Buffer.from('secret'))), SECRET_VERIFIER);
});

test('stage1 is SHA1(password) and the verifier is SHA1(stage1)', () => {
  const stage1 = nativePasswordStage1('p\u00e4ss');
  assert.ok(stage1.equals(createHash('sha1').update('p\u00e4ss', 'utf8').digest()));
  assert.ok(nativePasswordVerifier('p\u00e4ss').equals(createHash('sha1').update(stage1).digest()));
});

test('reproduces the tokens real clients sent, and verifies them', () => {
  const verifier = parseNativeVerifier(SECRET_VERIFIER);
  for (const login of REAL_LOGINS) {
    const scramble = hex(login.scramble);
    assert.equal(scrambleNativePassword('secret', scramble).toString('hex'), login.token, login.client);
    const stage1 = verifyNativePassword(hex(login.token), scramble, verifier);
    assert.ok(stage1?.equals(nativePasswordStage1('secret')), login.client);
  }
});

test('a token verifies, recovers stage1, and stage1 answers a new scramble', () => {
  const scramble = generateScramble();
  const token = scrambleNativePassword('correct horse', scramble);
  const stage1 = verifyNativePassword(token, scramble, nativePasswordVerifier('correct horse'));
  assert.ok(stage1);
  assert.ok(stage1.equals(nativePasswordStage1('correct horse')));
  const backendScramble = generateScramble();
  assert.ok(tokenFromStage1(stage1, backendScramble).equals(scrambleNativePassword('correct horse', backendScramble)));
});

test('wrong passwords, scrambles and lengths do not verify', () => {
  const scramble = generateScramble();
  const verifier = nativePasswordVerifier('right');
  assert.equal(verifyNativePassword(scrambleNativePassword('wrong', scramble), scramble, verifier), null);
  assert.equal(verifyNativePassword(scrambleNativePassword('right', generateScramble()), scramble, verifier), null);
  const token = scrambleNativePassword('right', scramble);
  assert.equal(verifyNativePassword(token.subarray(0, 19), scramble, verifier), null);
  assert.equal(verifyNativePassword(Buffer.concat([token, Buffer.from([0])]), scramble, verifier), null);
  assert.equal(verifyNativePassword(token, scramble, verifier.subarray(0, 19)), null);
  assert.equal(verifyNativePassword(Buffer.alloc(0), scramble, verifier), null);
});

test('a verifier that accepted a password before judges every later answer as a fresh one would', () => {
  const v = new NativeVerifier(nativePasswordVerifier('right'));
  for (let round = 0; round < 3; round++) {
    const scramble = generateScramble();
    const stage1 = v.verify(scrambleNativePassword('right', scramble), scramble);
    assert.ok(stage1?.equals(nativePasswordStage1('right')), `round ${round}: the right password`);
    assert.equal(v.verify(scrambleNativePassword('wrong', scramble), scramble), null, `round ${round}: a wrong one`);
    assert.equal(v.verify(scrambleNativePassword('right', generateScramble()), scramble), null, `round ${round}: another scramble's answer`);
    assert.equal(v.verify(Buffer.alloc(0), scramble), null, `round ${round}: no password`);
  }
});

test('an empty password is no password: empty token, stage1 and verifier', () => {
  const scramble = generateScramble();
  assert.equal(scrambleNativePassword('', scramble).length, 0);
  assert.equal(nativePasswordStage1('').length, 0);
  assert.equal(nativePasswordVerifier('').length, 0);
  assert.equal(formatNativeVerifier(Buffer.alloc(0)), '');
  assert.equal(parseNativeVerifier('').length, 0);
  const stage1 = verifyNativePassword(Buffer.alloc(0), scramble, parseNativeVerifier(''));
  assert.ok(stage1 && stage1.length === 0);
  assert.equal(tokenFromStage1(stage1, generateScramble()).length, 0);
  assert.equal(verifyNativePassword(scrambleNativePassword('x', scramble), scramble, Buffer.alloc(0)), null);
});

test('verifier text round-trips and accepts lowercase hex', () => {
  const v = nativePasswordVerifier('password');
  assert.ok(parseNativeVerifier(formatNativeVerifier(v)).equals(v));
  assert.ok(parseNativeVerifier('*2470c0c06dee42fd1618bb99005adca2ec9d1e19').equals(v));
});

test('bad verifier text fails with ProtocolError that does not echo it', () => {
  const bad = [
    '2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19', // no '*'
    '*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E1', // 39 digits
    '*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E1Z', // not hex
    '$A$005$abc', // another plugin's format
  ];
  for (const text of bad) {
    assert.throws(
      () => parseNativeVerifier(text),
      (err: unknown) => err instanceof ProtocolError && !err.message.includes(text.slice(1, 8)),
    );
  }
  assert.throws(() => formatNativeVerifier(Buffer.alloc(19)), ProtocolError);
  assert.throws(() => tokenFromStage1(Buffer.alloc(19), generateScramble()), ProtocolError);
});

test('generated scrambles are 20 bytes in 1..127, never NUL or $, and differ', () => {
  const seen = new Set<string>();
  const counts = new Array<number>(128).fill(0);
  for (let i = 0; i < 500; i++) {
    const s = generateScramble();
    assert.equal(s.length, 20);
    for (const b of s) {
      assert.ok(b >= 1 && b <= 127 && b !== 0x24, `byte ${b}`);
      counts[b]!++;
    }
    seen.add(s.toString('hex'));
  }
  assert.equal(seen.size, 500);
  assert.ok(counts.filter((c) => c > 0).length > 120, 'uses nearly the whole range');
});
