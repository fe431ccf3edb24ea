// The accounts client against a small HTTP server speaking our own control API.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createControlApiVerifiers } from '../../control-client/control-api-verifiers.js';
import { RoleVerifierError } from '../../control-client/verifiers.js';
import { formatNativeVerifier, nativePasswordVerifier, parseNativeVerifier } from '../../protocol/auth/native-password.js';
import { DEFAULT_POLICY, type UserAccounts } from '../../accounts/account.js';
import type { RoleVerifierClient } from '../../control-client/verifiers.js';

interface Role {
  plugin: string;
  verifier?: string;
}

/** project -> user -> role; requests are counted per path. */
const projects = new Map<string, Map<string, Role>>();
const hits = new Map<string, number>();
let delayMs = 0;
let failWith = 0;
/** When set, the server answers this instead (status, raw body text). */
let junk: { status: number; text: string } | null = null;
let lastAuthorization: string | undefined;
let server: Server;
let url: string;

function answer(req: IncomingMessage): { status: number; body: unknown } {
  const u = new URL(req.url ?? '/', 'http://x');
  const m = /^\/api\/v1\/projects\/([^/]+)\/roles$/.exec(u.pathname);
  if (!m || req.method !== 'GET') return { status: 404, body: { error: { code: 'not_found' } } };
  if (failWith) return { status: failWith, body: { error: { code: 'internal' } } };
  const project = projects.get(decodeURIComponent(m[1]!));
  if (!project) return { status: 404, body: { error: { code: 'project_not_found' } } };
  const user = u.searchParams.get('user') ?? '';
  const role = project.get(user);
  if (!role) return { status: 404, body: { error: { code: 'role_not_found' } } };
  const account = {
    user,
    host: '%',
    methods: [role],
    locked: false,
    passwordExpired: false,
    passwordLastChanged: 0,
    passwordLifetime: -1,
    ssl: 'none',
    neverBlocked: false,
    version: 'v1',
  };
  return { status: 200, body: { user, candidates: [account], policy: DEFAULT_POLICY } };
}

/** The old, simple view of an answer: null (no account), the native verifier, or the plugin. */
function kind(a: UserAccounts): Buffer | null | { plugin: string } {
  const method = a.candidates[0]?.methods[0];
  if (!method) return null;
  return method.verifier !== undefined ? parseNativeVerifier(method.verifier) : { plugin: method.plugin };
}
const getK = async (c: RoleVerifierClient, p: string, u: string, s: AbortSignal) => kind(await c.get(p, u, s));
const refreshK = async (c: RoleVerifierClient, p: string, u: string, s: AbortSignal) => kind(await c.refresh(p, u, s));

before(async () => {
  server = createServer((req, res) => {
    hits.set(req.url ?? '', (hits.get(req.url ?? '') ?? 0) + 1);
    lastAuthorization = req.headers.authorization;
    const { status, body } = answer(req);
    const text = junk ? junk.text : JSON.stringify(body);
    setTimeout(() => {
      res.writeHead(junk ? junk.status : status, { 'content-type': 'application/json' });
      res.end(text);
    }, delayMs);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  projects.set(
    'shop',
    new Map([
      ['app', { plugin: 'mysql_native_password', verifier: formatNativeVerifier(nativePasswordVerifier('app-secret')) }],
      ['nopass', { plugin: 'mysql_native_password', verifier: '' }],
      ['ed', { plugin: 'ed25519' }],
      ['bad', { plugin: 'mysql_native_password', verifier: '*NOT-A-HASH-0123456789' }],
      ['dot.ted user', { plugin: 'mysql_native_password', verifier: formatNativeVerifier(nativePasswordVerifier('x')) }],
      ['root', { plugin: 'unix_socket' }],
      ['hashless', { plugin: 'mysql_native_password' }],
    ]),
  );
});

after(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const live = () => new AbortController().signal;
const count = (project: string, user: string) =>
  hits.get(`/api/v1/projects/${encodeURIComponent(project)}/roles?${new URLSearchParams({ user })}`) ?? 0;

test('a native verifier is fetched once and cached; the token goes as a bearer', async () => {
  hits.clear();
  const client = createControlApiVerifiers({ url: `${url}/`, token: 'tok', ttlMs: 60_000 });
  try {
    const v = await getK(client, 'shop', 'app', live());
    assert.ok(Buffer.isBuffer(v) && v.equals(nativePasswordVerifier('app-secret')));
    assert.ok((await getK(client, 'shop', 'app', live())) instanceof Buffer);
    assert.equal(count('shop', 'app'), 1);
    assert.equal(lastAuthorization, 'Bearer tok');
    const empty = await getK(client, 'shop', 'nopass', live());
    assert.ok(Buffer.isBuffer(empty) && empty.length === 0);
    const odd = await getK(client, 'shop', 'dot.ted user', live());
    assert.ok(Buffer.isBuffer(odd) && odd.length === 20);
  } finally {
    await client.close();
  }
});

test('unknown roles and projects are null, other methods their plugin, and both are cached', async () => {
  hits.clear();
  const client = createControlApiVerifiers({ url, ttlMs: 60_000 });
  try {
    assert.equal(await getK(client, 'shop', 'ghost', live()), null);
    assert.equal(await getK(client, 'nope', 'app', live()), null);
    assert.deepEqual(await getK(client, 'shop', 'ed', live()), { plugin: 'ed25519' });
    assert.deepEqual(await getK(client, 'shop', 'root', live()), { plugin: 'unix_socket' });
    assert.deepEqual(await getK(client, 'shop', 'hashless', live()), { plugin: 'mysql_native_password' });
    for (let i = 0; i < 3; i++) {
      assert.equal(await getK(client, 'shop', 'ghost', live()), null);
      assert.deepEqual(await getK(client, 'shop', 'ed', live()), { plugin: 'ed25519' });
    }
    assert.equal(count('shop', 'ghost'), 1);
    assert.equal(count('shop', 'ed'), 1);
  } finally {
    await client.close();
  }
});

test('answers expire after ttlMs, so a changed password is seen', async () => {
  hits.clear();
  const client = createControlApiVerifiers({ url, ttlMs: 40 });
  try {
    const before = await getK(client, 'shop', 'app', live());
    projects.get('shop')!.set('app', { plugin: 'mysql_native_password', verifier: formatNativeVerifier(nativePasswordVerifier('new')) });
    assert.deepEqual(await getK(client, 'shop', 'app', live()), before);
    await new Promise((r) => setTimeout(r, 60));
    const after = await getK(client, 'shop', 'app', live());
    assert.ok(Buffer.isBuffer(after) && after.equals(nativePasswordVerifier('new')));
    assert.equal(count('shop', 'app'), 2);
  } finally {
    projects.get('shop')!.set('app', { plugin: 'mysql_native_password', verifier: formatNativeVerifier(nativePasswordVerifier('app-secret')) });
    await client.close();
  }
});

test('cached(): what get() would answer at once, nothing before a fetch, after ttlMs or after invalidate', async () => {
  hits.clear();
  const client = createControlApiVerifiers({ url, ttlMs: 40 });
  try {
    assert.equal(client.cached?.('shop', 'app'), undefined);
    const fetched = await client.get('shop', 'app', live());
    assert.equal(client.cached?.('shop', 'app'), fetched);
    assert.equal(count('shop', 'app'), 1, 'cached() asks nothing');
    client.invalidate('shop', 'app');
    assert.equal(client.cached?.('shop', 'app'), undefined);
    await client.get('shop', 'app', live());
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(client.cached?.('shop', 'app'), undefined, 'expired');
  } finally {
    await client.close();
  }
});

test('concurrent gets share one request; one caller giving up does not fail the others', async () => {
  hits.clear();
  delayMs = 50;
  const client = createControlApiVerifiers({ url, ttlMs: 60_000 });
  try {
    const impatient = new AbortController();
    const gets = Array.from({ length: 5 }, () => getK(client, 'shop', 'app', live()));
    const givesUp = getK(client, 'shop', 'app', impatient.signal);
    impatient.abort(new Error('client went away'));
    await assert.rejects(givesUp, /client went away/);
    for (const v of await Promise.all(gets)) assert.ok(Buffer.isBuffer(v));
    assert.equal(count('shop', 'app'), 1);
  } finally {
    delayMs = 0;
    await client.close();
  }
});

test('invalidate forgets an answer, including one still in flight', async () => {
  hits.clear();
  const client = createControlApiVerifiers({ url, ttlMs: 60_000 });
  try {
    await getK(client, 'shop', 'app', live());
    client.invalidate('shop', 'app');
    await getK(client, 'shop', 'app', live());
    assert.equal(count('shop', 'app'), 2);
    delayMs = 30;
    const inflight = getK(client, 'shop', 'app2', live());
    client.invalidate('shop', 'app2');
    assert.equal(await inflight, null);
    delayMs = 0;
    await getK(client, 'shop', 'app2', live());
    assert.equal(count('shop', 'app2'), 2, 'the answer fetched before invalidate was not cached');
  } finally {
    delayMs = 0;
    await client.close();
  }
});

test('control API errors are thrown, not cached, and never echo a verifier', async () => {
  hits.clear();
  const client = createControlApiVerifiers({ url, ttlMs: 60_000 });
  try {
    failWith = 503;
    await assert.rejects(getK(client, 'shop', 'app', live()), (err: Error) => {
      assert.ok(err instanceof RoleVerifierError);
      assert.match(err.message, /HTTP 503 \(internal\) for role 'app' of project 'shop'/);
      return true;
    });
    failWith = 0;
    assert.ok(Buffer.isBuffer(await getK(client, 'shop', 'app', live())));
    assert.equal(count('shop', 'app'), 2);
    await assert.rejects(getK(client, 'shop', 'bad', live()), (err: Error) => {
      assert.ok(err instanceof RoleVerifierError);
      assert.ok(!err.message.includes('NOT-A-HASH'), err.message);
      return true;
    });
  } finally {
    failWith = 0;
    await client.close();
  }
});

test('an unreachable control API is a RoleVerifierError naming the role', async () => {
  const client = createControlApiVerifiers({ url: 'http://127.0.0.1:1', ttlMs: 1_000, timeoutMs: 2_000 });
  try {
    await assert.rejects(getK(client, 'shop', 'app', live()), /control API did not answer for role 'app' of project 'shop'/);
  } finally {
    await client.close();
  }
});

test('the cache is bounded: the oldest answers go first', async () => {
  hits.clear();
  const client = createControlApiVerifiers({ url, ttlMs: 60_000, maxEntries: 2 });
  try {
    await getK(client, 'shop', 'u1', live());
    await getK(client, 'shop', 'u2', live());
    await getK(client, 'shop', 'u3', live());
    await getK(client, 'shop', 'u3', live());
    await getK(client, 'shop', 'u1', live());
    assert.equal(count('shop', 'u1'), 2);
    assert.equal(count('shop', 'u3'), 1);
  } finally {
    await client.close();
  }
});

test("user names travel as data: '..', '%2e%2e', slashes and NUL reach the server as they are", async () => {
  hits.clear();
  const names = ['..', '.', '%2e%2e', 'a/b', '../../projects/shop', 'nul\u0000x', 'x'.repeat(300), 'ünï😀'];
  const client = createControlApiVerifiers({ url, ttlMs: 60_000 });
  try {
    for (const name of names) {
      assert.equal(await getK(client, 'shop', name, live()), null, name);
      assert.equal(count('shop', name), 1, `asked for ${JSON.stringify(name)} by its own name`);
    }
  } finally {
    await client.close();
  }
});

test('answers the client does not expect are errors, never verdicts', async () => {
  const cases: Array<{ status: number; text: string }> = [
    { status: 404, text: '{"error":{"code":"not_found"}}' },
    { status: 404, text: 'not json' },
    { status: 200, text: '{}' },
    { status: 200, text: 'null' },
    { status: 200, text: '[]' },
    { status: 200, text: '{"user":"app"}' },
    { status: 200, text: '{"user":"other","plugin":"mysql_native_password","verifier":""}' },
    { status: 200, text: '{"user":"app","plugin":""}' },
    { status: 200, text: '{"user":"app","plugin":"mysql_native_password","verifier":7}' },
    { status: 200, text: '{"user":"app","plugin":"mysql_native_password","verifier":"*00"}' },
    { status: 302, text: '' },
    { status: 500, text: '{"error":{"code":"role_not_found"}}' },
    { status: 200, text: '{"user":"app","candidates":[],"policy":{}}' },
    { status: 200, text: '{"user":"app","candidates":{},"policy":{"defaultPasswordLifetime":0,"disconnectOnExpiredPassword":false,"maxPasswordErrors":3}}' },
    {
      status: 200,
      text: '{"user":"app","candidates":[{"user":"other","host":"%","methods":[],"locked":false,"passwordExpired":false,"passwordLastChanged":0,"passwordLifetime":-1,"ssl":"none","neverBlocked":false,"version":"v"}],"policy":{"defaultPasswordLifetime":0,"disconnectOnExpiredPassword":false,"maxPasswordErrors":3}}',
    },
    {
      status: 200,
      text: '{"user":"app","candidates":[{"user":"app","host":"%","methods":[{"plugin":"ed25519","verifier":""}],"locked":false,"passwordExpired":false,"passwordLastChanged":0,"passwordLifetime":-1,"ssl":"none","neverBlocked":false,"version":"v"}],"policy":{"defaultPasswordLifetime":0,"disconnectOnExpiredPassword":false,"maxPasswordErrors":3}}',
    },
    {
      status: 200,
      text: '{"user":"app","candidates":[{"user":"app","host":"%","methods":[],"locked":"no","passwordExpired":false,"passwordLastChanged":0,"passwordLifetime":-1,"ssl":"none","neverBlocked":false,"version":"v"}],"policy":{"defaultPasswordLifetime":0,"disconnectOnExpiredPassword":false,"maxPasswordErrors":3}}',
    },
    // The stored code that pins, malformed: an error, never "none".
    { status: 200, text: '{"user":"app","candidates":[],"policy":{"defaultPasswordLifetime":0,"disconnectOnExpiredPassword":false,"maxPasswordErrors":3},"storedCode":{"readAt":"2026-01-01T00:00:00Z","names":"f"}}' },
    { status: 200, text: '{"user":"app","candidates":[],"policy":{"defaultPasswordLifetime":0,"disconnectOnExpiredPassword":false,"maxPasswordErrors":3},"storedCode":{"names":[]}}' },
  ];
  for (const c of cases) {
    junk = c;
    const client = createControlApiVerifiers({ url, ttlMs: 60_000 });
    try {
      await assert.rejects(getK(client, 'shop', 'app', live()), RoleVerifierError, `${c.status} ${c.text}`);
    } finally {
      junk = null;
      await client.close();
    }
  }
});

test('while the control API fails, the last answer stands for maxStaleMs; then the failure shows', async () => {
  // maxStaleMs leaves room for the stale reads below on a loaded machine (150 ms was too tight at load 24).
  const client = createControlApiVerifiers({ url, ttlMs: 20, maxStaleMs: 800 });
  try {
    const known = await getK(client, 'shop', 'app', live());
    assert.equal(await getK(client, 'shop', 'ghost', live()), null);
    failWith = 503;
    await new Promise((r) => setTimeout(r, 40));
    assert.deepEqual(await getK(client, 'shop', 'app', live()), known, 'stale verifier used');
    assert.equal(await getK(client, 'shop', 'ghost', live()), null, 'stale "no such user" used');
    assert.deepEqual(await refreshK(client, 'shop', 'app', live()), known);
    await assert.rejects(getK(client, 'shop', 'never-asked', live()), RoleVerifierError);
    await new Promise((r) => setTimeout(r, 850));
    await assert.rejects(getK(client, 'shop', 'app', live()), RoleVerifierError, 'too old to stand in');
    failWith = 0;
    client.invalidate('shop', 'app');
    await getK(client, 'shop', 'app', live());
    failWith = 503;
    client.invalidate('shop', 'app');
    await assert.rejects(getK(client, 'shop', 'app', live()), RoleVerifierError, 'an invalidated answer is no fallback');
  } finally {
    failWith = 0;
    await client.close();
  }
});

test('with several control-plane URLs, a role read that gets no answer from one is tried on the next', async () => {
  hits.clear();
  const client = createControlApiVerifiers({ url: ['http://127.0.0.1:1', url], ttlMs: 0 });
  try {
    for (let i = 0; i < 3; i++) assert.ok(Buffer.isBuffer(await getK(client, 'shop', 'app', live())));
    assert.equal(count('shop', 'app'), 3);
  } finally {
    await client.close();
  }
});

test("the compute's stored code comes with the answer; without it (a control plane from before it) it is unknown, not none", async () => {
  const policy = '"policy":{"defaultPasswordLifetime":0,"disconnectOnExpiredPassword":false,"maxPasswordErrors":3}';
  for (const [text, names] of [
    [`{"user":"app","candidates":[],${policy},"storedCode":{"readAt":"2026-01-01T00:00:00Z","names":["f","t"]}}`, ['f', 't']],
    [`{"user":"app","candidates":[],${policy},"storedCode":{"readAt":"2026-01-01T00:00:00Z","names":null,"reason":"no procedure"}}`, null],
    [`{"user":"app","candidates":[],${policy}}`, null],
  ] as const) {
    junk = { status: 200, text };
    const client = createControlApiVerifiers({ url, ttlMs: 60_000 });
    try {
      assert.deepEqual((await client.get('shop', 'app', live())).storedCode?.names ?? null, names, text);
    } finally {
      junk = null;
      await client.close();
    }
  }
});
