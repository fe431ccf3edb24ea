// The session relay's ends, over loopback socket pairs (bytes only; the end-to-end test
// with real clients and mariadbd is test/integration/pool-session-relay.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { framePacket, MAX_PAYLOAD_LENGTH } from '../../protocol/framing.js';
import { writeComQuery } from '../../protocol/commands/com-query.js';
import { writeComQuit } from '../../protocol/commands/simple-commands.js';
import { relaySession } from '../../relay/session-relay.js';
import { answerFences, fenceAnswer } from '../helpers/fence-answer.js';
import { socketPair, collect } from '../helpers/socket-pair.js';

test('carries bytes both ways and stops at COM_QUIT, leaving the backend open and paused', async () => {
  const [client, clientApp] = await socketPair();
  const [backend, compute] = await socketPair();
  const atCompute = collect(compute);
  answerFences(compute);
  const atClient = collect(clientApp);
  const done = relaySession(client, Buffer.alloc(0), { socket: backend });
  const query = framePacket(writeComQuery('SELECT 1'), 0);
  clientApp.write(query);
  compute.write(Buffer.from('reply bytes'));
  await new Promise((r) => setTimeout(r, 50));
  clientApp.write(framePacket(writeComQuit(), 0));
  const outcome = await done;
  assert.deepEqual(outcome, { end: 'client_quit', reusable: true, changedUser: false, commands: 1, statementRunning: false });
  // Then the fence that marks the end of the client's replies, never the quit.
  assert.ok(atCompute().subarray(0, query.length).equals(query));
  assert.ok(fenceAnswer(atCompute().subarray(query.length)), 'the quit never reached the compute');
  assert.equal(atClient().toString(), 'reply bytes');
  assert.equal(backend.destroyed, false);
  assert.equal(backend.isPaused(), true);
  await new Promise<void>((resolve) => clientApp.once('end', () => resolve()));
  backend.destroy();
  compute.destroy();
  clientApp.destroy();
});

test('bytes the client sent before the relay took over are relayed, a quit among them too', async () => {
  const [client, clientApp] = await socketPair();
  const [backend, compute] = await socketPair();
  const atCompute = collect(compute);
  answerFences(compute);
  const query = framePacket(writeComQuery('SELECT 2'), 0);
  const outcome = await relaySession(client, Buffer.concat([query, framePacket(writeComQuit(), 0)]), { socket: backend });
  assert.equal(outcome.end, 'client_quit');
  await new Promise((r) => setTimeout(r, 30));
  assert.ok(atCompute().subarray(0, query.length).equals(query));
  for (const s of [backend, compute, clientApp]) s.destroy();
});

test('a backend that closes ends the session and the client', async () => {
  const [client, clientApp] = await socketPair();
  const [backend, compute] = await socketPair();
  clientApp.on('error', () => {});
  const done = relaySession(client, Buffer.alloc(0), { socket: backend });
  compute.destroy();
  const outcome = await done;
  assert.equal(outcome.end, 'backend_closed');
  assert.equal(outcome.reusable, false);
  await new Promise<void>((resolve) => clientApp.once('close', () => resolve()));
});

test('a client whose connection resets without COM_QUIT is not reusable; an abort terminates', async () => {
  const [client, clientApp] = await socketPair();
  const [backend, compute] = await socketPair();
  const done = relaySession(client, Buffer.alloc(0), { socket: backend });
  clientApp.resetAndDestroy();
  assert.deepEqual(await done, { end: 'client_error', reusable: false, changedUser: false, commands: 0, statementRunning: false });
  assert.equal(backend.destroyed, false, 'the pool decides what happens to the backend');

  const [client2, clientApp2] = await socketPair();
  const ac = new AbortController();
  const done2 = relaySession(client2, Buffer.alloc(0), { socket: backend }, { signal: ac.signal });
  ac.abort();
  assert.equal((await done2).end, 'terminated');
  for (const s of [backend, compute, clientApp2]) s.destroy();
});

test('a 16 MiB client packet whose continuation is out of sequence ends the session as a client error', async () => {
  const [client, clientApp] = await socketPair();
  const [backend, compute] = await socketPair();
  clientApp.on('error', () => {});
  collect(compute); // reads what is forwarded, so the relay keeps reading the client
  const done = relaySession(client, Buffer.alloc(0), { socket: backend });
  const big = framePacket(Buffer.alloc(MAX_PAYLOAD_LENGTH + 1, 0x20), 0);
  big[MAX_PAYLOAD_LENGTH + 7] = 5; // the continuation should carry sequence id 1
  clientApp.write(big);
  assert.deepEqual(await done, { end: 'client_error', reusable: false, changedUser: false, commands: 1, statementRunning: true });
  for (const s of [backend, compute, clientApp]) s.destroy();
});
