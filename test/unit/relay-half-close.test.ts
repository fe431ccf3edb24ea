// A client that half-closes (FIN) after its last command gets what it asked for, then the
// close, from the streaming relays (pipe, session pooling) and the compressed client
// socket; over loopback socket pairs whose client end allows half-open, as the proxy's
// listener does. The end-to-end comparison with mariadbd is test/integration/half-close.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { framePacket } from '../../protocol/framing.js';
import { writeComQuery } from '../../protocol/commands/com-query.js';
import { writeCompressedPackets, CompressedPacketReader } from '../../protocol/compressed-packets.js';
import { relayPipe } from '../../relay/pipe-relay.js';
import { relaySession } from '../../relay/session-relay.js';
import type { KillHook } from '../../relay/intercepted-command.js';
import { compressedClient } from '../../socket/compressed-socket.js';
import { answerFences, fenceAnswer } from '../helpers/fence-answer.js';
import { collect, halfOpen, plain, socketPair } from '../helpers/socket-pair.js';

const q = (sql: string) => framePacket(writeComQuery(sql), 0);
const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ended = (s: Socket) => new Promise<void>((resolve) => (s.readableEnded ? resolve() : s.once('end', () => resolve())));

/** A hook that takes `ms` to decide, then has `sql` sent in the KILL's place. */
function slowHook(ms: number, sql: string): KillHook {
  return { kill: () => delay(ms).then(() => ({ kind: 'send', sql })) };
}

test('pipe: a FIN while the statement runs goes to the compute, whose reply still reaches the client', async () => {
  const [client, clientApp] = await socketPair(halfOpen);
  const [backend, compute] = await socketPair(plain, true);
  const atCompute = collect(compute);
  const atClient = collect(clientApp);
  const done = relayPipe(client, backend, Buffer.alloc(0), Buffer.alloc(0), { sessionId: 1 << 30 });
  clientApp.end(q('SELECT SLEEP(1)'));
  await ended(compute);
  assert.ok(atCompute().equals(q('SELECT SLEEP(1)')));
  assert.equal(client.destroyed, false, 'the client is still there to read');
  compute.end(Buffer.from('the reply'));
  await ended(clientApp);
  assert.equal(atClient().toString(), 'the reply');
  // Both ends close now, in either order; nothing runs.
  assert.equal((await done).statementRunning, false);
  clientApp.destroy();
});

test('pipe: a FIN behind a KILL being decided reaches the compute after what replaces the KILL', async () => {
  const [client, clientApp] = await socketPair(halfOpen);
  const [backend, compute] = await socketPair();
  const atCompute = collect(compute);
  const done = relayPipe(client, backend, Buffer.alloc(0), Buffer.alloc(0), { sessionId: 1 << 30, hook: slowHook(40, 'KILL QUERY 17') });
  clientApp.end(Buffer.concat([q('SELECT 1'), q('KILL QUERY 1073741830'), q('SELECT 2')]));
  await ended(compute);
  assert.ok(atCompute().equals(Buffer.concat([q('SELECT 1'), q('KILL QUERY 17'), q('SELECT 2')])), atCompute().toString('latin1'));
  compute.end();
  await done;
  clientApp.destroy();
});

test('pipe: a client that half-closed during its login has its leftover sent, then the FIN', async () => {
  const [client, clientApp] = await socketPair(halfOpen);
  const [backend, compute] = await socketPair();
  const atCompute = collect(compute);
  clientApp.end();
  await ended(client);
  const done = relayPipe(client, backend, q('SELECT 3'), Buffer.alloc(0), { sessionId: 1 << 30 });
  await ended(compute);
  assert.ok(atCompute().equals(q('SELECT 3')));
  compute.end();
  assert.equal((await done).statementRunning, false);
  clientApp.destroy();
});

test('session pooling: a FIN after a statement is a goodbye: replies up to the fence, then the close; reusable', async () => {
  const [client, clientApp] = await socketPair(halfOpen);
  const [backend, compute] = await socketPair();
  const atCompute = collect(compute);
  const atClient = collect(clientApp);
  const done = relaySession(client, Buffer.alloc(0), { socket: backend });
  clientApp.end(q('SELECT SLEEP(1)'));
  await delay(30);
  assert.equal(client.destroyed, false);
  // The compute answers in order: the statement, then the fence.
  compute.write(Buffer.from('the reply'));
  compute.write(fenceAnswer(atCompute())!);
  assert.deepEqual(await done, { end: 'client_quit', reusable: true, changedUser: false, commands: 1, forwarded: true, statementRunning: false });
  await ended(clientApp);
  assert.equal(atClient().toString(), 'the reply');
  assert.equal(backend.destroyed, false);
  for (const s of [backend, compute, clientApp]) s.destroy();
});

test('session pooling: a FIN behind a KILL being decided waits for it, then fences', async () => {
  const [client, clientApp] = await socketPair(halfOpen);
  const [backend, compute] = await socketPair();
  const atCompute = collect(compute);
  answerFences(compute);
  const done = relaySession(client, Buffer.alloc(0), { socket: backend }, { sessionId: 1 << 30, hook: slowHook(40, 'KILL QUERY 17') });
  clientApp.end(q('KILL QUERY 1073741830'));
  assert.equal((await done).end, 'client_quit');
  const sent = atCompute().toString('latin1');
  assert.ok(sent.startsWith(q('KILL QUERY 17').toString('latin1')), sent);
  assert.match(sent, /SIGNAL SQLSTATE '45000'/);
  for (const s of [backend, compute, clientApp]) s.destroy();
});

test('session pooling: a FIN inside a packet leaves the compute part of it: the session ends as if the client had gone', async () => {
  const [client, clientApp] = await socketPair(halfOpen);
  const [backend, compute] = await socketPair();
  const atCompute = collect(compute);
  const done = relaySession(client, Buffer.alloc(0), { socket: backend });
  const query = q('SELECT 1');
  clientApp.end(query.subarray(0, 6));
  const outcome = await done;
  assert.equal(outcome.end, 'client_closed');
  assert.equal(outcome.reusable, false);
  assert.doesNotMatch(atCompute().toString('latin1'), /SIGNAL/, 'no fence inside the cut packet');
  for (const s of [backend, compute, clientApp]) s.destroy();
});

test('compressed client socket: a FIN ends what the client sends; writes still reach it, compressed', async () => {
  const [raw, clientApp] = await socketPair(halfOpen);
  const socket = compressedClient(raw, Buffer.alloc(0));
  const received = collect(socket);
  const atClient = collect(clientApp);
  clientApp.end(writeCompressedPackets(q('SELECT 1'), 0).packets[0]);
  await ended(socket);
  assert.ok(received().equals(q('SELECT 1')));
  socket.end(Buffer.from('a reply'));
  await ended(clientApp);
  const reader = new CompressedPacketReader();
  assert.equal(Buffer.concat(reader.push(atClient())).toString(), 'a reply');
  clientApp.destroy();
});

test('compressed client socket over a client that half-closed before it was made ends at once', async () => {
  const [raw, clientApp] = await socketPair(halfOpen);
  // The login's reader reads past the OK until the FIN: what it read is the leftover.
  const read = collect(raw);
  clientApp.end(writeCompressedPackets(q('SELECT 2'), 0).packets[0]);
  await ended(raw);
  raw.removeAllListeners('data');
  raw.pause();
  const socket = compressedClient(raw, read());
  const received = collect(socket);
  await ended(socket);
  assert.ok(received().equals(q('SELECT 2')));
  socket.destroy();
  clientApp.destroy();
});
