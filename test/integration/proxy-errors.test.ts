// What a client sees when things go wrong: MySQL ERR packets with fitting
// codes, never a silent close, and the proxy keeps serving everyone else.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import mysql from 'mysql2/promise';
import { startStack, type ProjectCredentials, type Stack } from '../helpers/stack.js';
import { mariadbCli } from '../helpers/clients.js';

let stack: Stack;
let shop: ProjectCredentials;

before(async () => {
  stack = await startStack({ proxy: { handshakeTimeoutMs: 500 } });
  shop = await stack.createProject('shop');
});

after(async () => {
  await stack?.close();
});

async function connectError(user: string, password: string): Promise<{ errno?: number; message: string }> {
  try {
    const conn = await mysql.createConnection({ host: '127.0.0.1', port: stack.proxy.port, user, password });
    await conn.end();
  } catch (err) {
    return err as { errno?: number; message: string };
  }
  throw new Error('connection unexpectedly succeeded');
}

/** Raw socket that collects everything the proxy sends until it closes. */
async function rawExchange(send: (s: Socket) => void, waitMs = 3_000): Promise<Buffer> {
  const s = connect(stack.proxy.port, '127.0.0.1');
  const chunks: Buffer[] = [];
  s.on('data', (c) => chunks.push(c));
  s.on('error', () => {});
  await once(s, 'connect');
  send(s);
  const timer = setTimeout(() => s.destroy(), waitMs);
  await once(s, 'close');
  clearTimeout(timer);
  return Buffer.concat(chunks);
}

/** The ERR packet after the greeting: [code, message] */
function errAfterGreeting(bytes: Buffer): { code: number; message: string } {
  const greetingLen = bytes.readUIntLE(0, 3);
  const err = bytes.subarray(4 + greetingLen);
  assert.ok(err.length > 7, `expected an ERR packet after the greeting, got ${err.toString('hex')}`);
  assert.equal(err[4], 0xff, 'ERR header');
  return { code: err.readUInt16LE(5), message: err.subarray(13).toString() };
}

function handshakeResponse(user: string, capabilities = 0x0008a201): Buffer {
  const body = Buffer.concat([
    Buffer.from([capabilities & 0xff, (capabilities >> 8) & 0xff, (capabilities >> 16) & 0xff, capabilities >>> 24]),
    Buffer.from([0, 0, 0, 1, 45]),
    Buffer.alloc(23),
    Buffer.from(user + '\0'),
    Buffer.from([0]),
    Buffer.from('mysql_native_password\0'),
  ]);
  const header = Buffer.from([body.length & 0xff, (body.length >> 8) & 0xff, body.length >> 16, 1]);
  return Buffer.concat([header, body]);
}

test('wrong password gets 1045 from the compute', async () => {
  const err = await connectError(`shop.${shop.user}`, 'not-the-password');
  assert.equal(err.errno, 1045, err.message);
});

test('an unknown project gets the same 1045 as a wrong password', async () => {
  const err = await connectError('nosuchproject.app', 'whatever');
  assert.equal(err.errno, 1045, err.message);
  assert.match(err.message, /Access denied for user 'app'/);
});

test('a user name without a project says which form to use', async () => {
  const res = await mariadbCli(stack.proxy.port, 'app', 'x', 'SELECT 1');
  assert.notEqual(res.code, 0);
  assert.match(res.stderr, /1045/);
  assert.match(res.stderr, /<project>\.<user>/);
});

test('garbage instead of a handshake ends the session with an ERR', async () => {
  const bytes = await rawExchange((s) => s.write(Buffer.from('050000017a7a7a7a7a', 'hex')));
  const err = errAfterGreeting(bytes);
  assert.equal(err.code, 1043);
});

test('an oversized handshake packet gets ER_NET_PACKET_TOO_LARGE', async () => {
  const bytes = await rawExchange((s) => s.write(Buffer.from([0xff, 0xff, 0x7f, 1, 0, 0, 0, 0])));
  assert.equal(errAfterGreeting(bytes).code, 1153);
});

test('a client that stalls mid-handshake is dropped after the handshake timeout', async () => {
  const started = Date.now();
  const bytes = await rawExchange((s) => s.write(handshakeResponse('shop.app').subarray(0, 10)), 5_000);
  const elapsed = Date.now() - started;
  assert.equal(errAfterGreeting(bytes).code, 1043);
  assert.ok(elapsed >= 400 && elapsed < 3_000, `dropped after ${elapsed} ms`);
});

test('a client without pluggable auth, answering a scramble that is not its compute\'s (passthrough), is refused as MariaDB refuses a switch it cannot read: 1251', async () => {
  const bytes = await rawExchange((s) => s.write(handshakeResponse('shop.app', 0x0000a201)), 5_000);
  const err = errAfterGreeting(bytes);
  assert.equal(err.code, 1251);
  assert.match(err.message, /Client does not support authentication protocol requested by server/);
});

test('after all that the proxy still serves clients and holds no stray sessions', async () => {
  const conn = await mysql.createConnection({
    host: '127.0.0.1',
    port: stack.proxy.port,
    user: `shop.${shop.user}`,
    password: shop.password,
  });
  const [rows] = await conn.query('SELECT 3 AS n');
  assert.equal((rows as any[])[0].n, 3);
  await conn.end();
  const deadline = Date.now() + 3_000;
  while (stack.proxy.sessions > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.equal(stack.proxy.sessions, 0);
});
