// A client that half-closes (FIN) during its login in front of a sleeping compute: what
// it sent decides, as with MariaDB. Without a whole login nothing wakes and the session
// ends at once; a passthrough login is whole only once the client answers the compute's
// auth switch, so a FIN before that wakes nothing either. A verified client whose login
// is whole gets its compute woken, the login's OK and its statements' replies, then the
// close, also when its FIN comes while it is held for the wake.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ERR_HEADER, OK_HEADER, PacketFramer, framePacket, isAuthSwitchRequest, parseErrPacket, CLIENT_PROTOCOL_41, type Greeting } from '../../protocol/index.js';
import { startStack, type ProjectCredentials, type Stack } from '../helpers/stack.js';
import { startProxy, type ProxyServer } from '../../proxy/server.js';
import { testLogger } from '../helpers/logger.js';
import { finDuringLogin, query } from '../helpers/wire-exchange.js';
import { handshakeResponse } from '../helpers/wire-login.js';
import { startWakeGate, type WakeGate } from '../helpers/wake-gate.js';

let stack: Stack;
let shop: ProjectCredentials;
let passthrough: ProxyServer;
let gate: WakeGate;

before(async () => {
  // Wakes of `shop` wait at the gate until a test lets them through.
  gate = await startWakeGate('shop');
  stack = await startStack({ cacheTtlMs: 100, verify: { ttlMs: 200 }, resolverUrl: (cpUrl) => ((gate.target.url = cpUrl), gate.url) });
  shop = await stack.createProject('shop');
  passthrough = await startProxy({ host: '127.0.0.1', port: 0, resolver: stack.resolver, logger: testLogger() });
  await stack.suspend(shop.computeId, 'stop');
});
after(async () => {
  gate?.release();
  await passthrough?.close();
  await stack?.close();
  await gate?.close();
});

const login = (g: Greeting, password = shop.password, plugin?: string) =>
  framePacket(handshakeResponse(g, { user: Buffer.from(`shop.${shop.user}`), password, ...(plugin ? { plugin } : {}) }), 1);

/** What the client received, packet by packet: 'ok', 'err <code>', 'switch', or the first byte (an EOF's 0xfe). */
function kinds(bytes: Buffer): string[] {
  return new PacketFramer(1 << 24).push(bytes).map((p) => {
    if (p.payload[0] === OK_HEADER) return 'ok';
    if (p.payload[0] === ERR_HEADER) return `err ${parseErrPacket(p.payload, CLIENT_PROTOCOL_41).code}`;
    if (isAuthSwitchRequest(p.payload) && p.payload.length >= 9) return 'switch';
    return `0x${p.payload[0]!.toString(16)}`;
  });
}

async function asleep(): Promise<{ state: string; resumeCount: number }> {
  const c = await stack.compute(shop.computeId);
  return { state: c.state, resumeCount: c.resumeCount };
}

test('no whole login, no wake: a FIN after the greeting, inside the login, after a wrong password or at the auth switch', async () => {
  const before = await asleep();
  assert.equal(before.state, 'stopped');
  const asked = gate.asked;
  const verified = stack.proxy.port;
  assert.deepEqual(kinds(await finDuringLogin(verified, () => Buffer.alloc(0))), []);
  assert.deepEqual(kinds(await finDuringLogin(verified, (g) => login(g).subarray(0, 20))), []);
  assert.deepEqual(kinds(await finDuringLogin(verified, (g) => login(g, 'wrong'))), ['err 1045']);
  assert.deepEqual(kinds(await finDuringLogin(verified, (g) => login(g, shop.password, 'caching_sha2_password'))), ['switch']);
  // Passthrough: the client never answers the compute's auth switch, so its login is never whole.
  // The FIN in the login's own segment: one that comes later may come after the wake was asked for.
  const oneSegment = { oneSegment: true };
  assert.deepEqual(kinds(await finDuringLogin(passthrough.port, (g) => login(g), oneSegment)), []);
  assert.deepEqual(kinds(await finDuringLogin(passthrough.port, (g) => Buffer.concat([login(g), query('SELECT 1')]), oneSegment)), []);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(gate.asked, asked, 'a wake was asked for');
  assert.deepEqual(await asleep(), before);
});

test('a passthrough client held for a wake that half-closes is let go at once', async () => {
  assert.equal((await asleep()).state, 'stopped');
  const started = Date.now();
  const bytes = await finDuringLogin(passthrough.port, (g) => login(g), { finAfterMs: 300, timeoutMs: 30_000 });
  assert.deepEqual(kinds(bytes), []);
  assert.ok(Date.now() - started < 1_500, `closed ${Date.now() - started - 300} ms after the FIN, the wake still held`);
  // The wake it asked for runs on once let through (other clients may wait for it).
  gate.release();
  await stack.waitForState(shop.computeId, 'active', 30_000);
  await stack.suspend(shop.computeId, 'stop');
  gate.hold();
});

for (const [when, finAfterMs] of [['with its login', undefined], ['while it is held for the wake', 300]] as const) {
  test(`a verified client whose whole login came before its FIN (${when}) gets the compute woken, its OK and replies, then the close`, async () => {
    assert.equal((await asleep()).state, 'stopped');
    const got = finDuringLogin(stack.proxy.port, (g) => Buffer.concat([login(g), query("SELECT 'woken' AS v")]), {
      ...(finAfterMs !== undefined ? { finAfterMs } : {}),
      timeoutMs: 30_000,
    });
    await new Promise((r) => setTimeout(r, 600));
    gate.release();
    const bytes = await got;
    // OK, then the result set: column count, column, EOF, row, EOF.
    assert.deepEqual(kinds(bytes), ['ok', '0x1', '0x3', '0xfe', '0x5', '0xfe']);
    assert.ok(bytes.includes(Buffer.from('woken')));
    assert.equal((await asleep()).state, 'active');
    await stack.suspend(shop.computeId, 'stop');
    gate.hold();
  });
}
