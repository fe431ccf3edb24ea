// The session relay's ends, over loopback socket pairs (bytes only; the end-to-end test
// with real clients and mariadbd is test/integration/pool-session-relay.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { framePacket, MAX_PAYLOAD_LENGTH } from '../../protocol/framing.js';
import { writeComQuery } from '../../protocol/commands/com-query.js';
import { writeComQuit } from '../../protocol/commands/simple-commands.js';
import { writeComStmtPrepare } from '../../protocol/commands/com-stmt.js';
import { writeOkPacket } from '../../protocol/packets/ok-packet.js';
import { CLIENT_PROTOCOL_41, SERVER_STATUS_AUTOCOMMIT } from '../../protocol/constants.js';
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
  assert.deepEqual(outcome, { end: 'client_quit', reusable: true, changedUser: false, commands: 1, forwarded: true, statementRunning: false });
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

test('a packet that is no command (empty, or out of sequence) still counts as bytes sent to the compute; a bare COM_QUIT sends none', async () => {
  for (const [label, bytes, forwarded] of [
    ['an empty packet', Buffer.from([0, 0, 0, 0]), true],
    ['a packet out of sequence', framePacket(writeComQuery('SELECT 1'), 1), true],
    ['nothing', Buffer.alloc(0), false],
  ] as const) {
    const [client, clientApp] = await socketPair();
    const [backend, compute] = await socketPair();
    answerFences(compute);
    const done = relaySession(client, Buffer.alloc(0), { socket: backend });
    if (bytes.length > 0) clientApp.write(bytes);
    await new Promise((r) => setTimeout(r, 30));
    clientApp.write(framePacket(writeComQuit(), 0));
    const outcome = await done;
    assert.equal(outcome.commands, 0, label);
    assert.equal(outcome.forwarded, forwarded, label);
    backend.destroy();
    compute.destroy();
    clientApp.destroy();
  }
});

test('a client whose connection resets without COM_QUIT is not reusable; an abort terminates', async () => {
  const [client, clientApp] = await socketPair();
  const [backend, compute] = await socketPair();
  const done = relaySession(client, Buffer.alloc(0), { socket: backend });
  clientApp.resetAndDestroy();
  assert.deepEqual(await done, { end: 'client_error', reusable: false, changedUser: false, commands: 0, forwarded: false, statementRunning: false });
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
  assert.deepEqual(await done, { end: 'client_error', reusable: false, changedUser: false, commands: 1, forwarded: true, statementRunning: true });
  for (const s of [backend, compute, clientApp]) s.destroy();
});

// Following replies (what session mode does): a quit needs a fence only when the relay cannot tell where the replies end.
const FOLLOW = { follow: { capabilities: CLIENT_PROTOCOL_41, mariadbCapabilities: 0 } };
const OK = framePacket(writeOkPacket({ affectedRows: 0, lastInsertId: 0, statusFlags: SERVER_STATUS_AUTOCOMMIT, warnings: 0, info: '' }, CLIENT_PROTOCOL_41), 1);
const QUIT = framePacket(writeComQuit(), 0);
const settle = () => new Promise((r) => setTimeout(r, 40));

/** A relay that follows replies, between a client and a compute that are plain sockets (the compute answers fences). */
async function followedSession() {
  const [client, clientApp] = await socketPair();
  const [backend, compute] = await socketPair();
  const atCompute = collect(compute);
  answerFences(compute);
  const atClient = collect(clientApp);
  const done = relaySession(client, Buffer.alloc(0), { socket: backend }, FOLLOW);
  const close = () => {
    for (const s of [backend, compute, clientApp]) s.destroy();
  };
  return { clientApp, compute, atCompute, atClient, done, close };
}

/** The client sends `command`, the compute answers `answer`, then the client quits. */
async function quitAfterReply(command: Buffer, answer: Buffer) {
  const s = await followedSession();
  s.clientApp.write(command);
  await settle();
  s.compute.write(answer);
  await settle();
  s.clientApp.write(QUIT);
  const outcome = await s.done;
  await settle();
  s.close();
  return { outcome, atCompute: s.atCompute(), atClient: s.atClient() };
}

test('following replies, a COM_QUIT after the last reply ends the session at once: no fence goes to the compute', async () => {
  const query = framePacket(writeComQuery('DO 1'), 0);
  const { outcome, atCompute, atClient } = await quitAfterReply(query, OK);
  assert.deepEqual(outcome, { end: 'client_quit', reusable: true, changedUser: false, commands: 1, forwarded: true, statementRunning: false });
  assert.ok(atCompute.equals(query), 'only the query reached the compute');
  assert.ok(atClient.equals(OK));
});

test('following replies, a COM_QUIT pipelined behind a query ends once its reply is relayed, still without a fence', async () => {
  const s = await followedSession();
  let ended = false;
  const done = s.done.then((o) => ((ended = true), o));
  const query = framePacket(writeComQuery('DO SLEEP(0.01)'), 0);
  s.clientApp.write(Buffer.concat([query, QUIT]));
  await settle();
  assert.equal(ended, false, 'the reply is still due');
  // The reply in two pieces: the session ends with the second.
  s.compute.write(OK.subarray(0, 3));
  await settle();
  assert.equal(ended, false);
  s.compute.write(OK.subarray(3));
  assert.equal((await done).end, 'client_quit');
  await settle();
  assert.ok(s.atCompute().equals(query), 'no fence');
  assert.ok(s.atClient().equals(OK), 'the reply came before the close');
  s.close();
});

test('following replies, a client whose connection resets before its reply is known to leave its statement running', async () => {
  const s = await followedSession();
  s.clientApp.write(framePacket(writeComQuery('DO SLEEP(10)'), 0));
  await settle();
  // A reset, not a FIN: a FIN is a half-close whose replies are still owed (client-fin.ts).
  s.clientApp.resetAndDestroy();
  assert.equal((await s.done).statementRunning, true);
  s.close();
});

test('after a command whose reply it does not follow (COM_STMT_PREPARE), a quit raises the fence', async () => {
  const prepare = framePacket(writeComStmtPrepare(Buffer.from('SELECT ?')), 0);
  const { outcome, atCompute, atClient } = await quitAfterReply(prepare, Buffer.from('prepare reply'));
  assert.equal(outcome.end, 'client_quit');
  assert.ok(fenceAnswer(atCompute.subarray(prepare.length)), 'a fence followed the prepare');
  assert.equal(atClient.toString(), 'prepare reply');
});

test('replies the tracker cannot place (more than were asked for) make a quit raise the fence, and reach the client as they came', async () => {
  const query = framePacket(writeComQuery('DO 1'), 0);
  const { outcome, atCompute, atClient } = await quitAfterReply(query, Buffer.concat([OK, OK]));
  assert.equal(outcome.end, 'client_quit');
  assert.ok(fenceAnswer(atCompute.subarray(query.length)), 'a fence followed');
  assert.ok(atClient.equals(Buffer.concat([OK, OK])));
});
