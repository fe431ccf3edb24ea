// The pipe relay and compute sockets' shared-buffer reads, over loopback socket pairs:
// every byte arrives, in order, also when a slow reader makes writes back up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { connectBackendSocket, divert, undivert } from '../../backend/backend-socket.js';
import { relayPipe } from '../../relay/pipe-relay.js';
import { relaySession } from '../../relay/session-relay.js';
import { framePacket } from '../../protocol/framing.js';
import { writeComQuery } from '../../protocol/commands/com-query.js';
import { writeComQuit } from '../../protocol/commands/simple-commands.js';
import { fenceAnswer } from '../helpers/fence-answer.js';
import { plain, socketPair, type Dial } from '../helpers/socket-pair.js';

const shared: Dial = (port) => connectBackendSocket('127.0.0.1', port);

/** The first `size` bytes `s` sends, read slowly: paused for a moment every few chunks. */
function drainSlowly(s: Socket, size: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let got = 0;
  let n = 0;
  return new Promise((resolve) => {
    s.on('data', (c: Buffer) => {
      chunks.push(c);
      got += c.length;
      if (got >= size) return resolve(Buffer.concat(chunks));
      if (++n % 8 === 0) {
        s.pause();
        setTimeout(() => s.resume(), 2);
      }
    });
  });
}

/** Writes `data` in uneven pieces. */
async function send(s: Socket, data: Buffer): Promise<void> {
  for (let at = 0; at < data.length; ) {
    const size = 1 + ((at * 7919) % 70_000);
    const piece = data.subarray(at, at + size);
    at += piece.length;
    if (!s.write(piece)) await new Promise((r) => s.once('drain', r));
  }
}

const digest = (b: Buffer) => createHash('sha256').update(b).digest('hex');

for (const [name, dial] of [['compute socket with shared-buffer reads', shared], ['plain compute socket', plain]] as const) {
  test(`pipe relay carries 6 MiB each way intact through slow readers (${name})`, async () => {
    const [client, clientApp] = await socketPair();
    const [backend, compute] = await socketPair(dial);
    client.pause();
    backend.pause();
    // The relay reads the client's packet framing (for KILL): one 6 MiB packet.
    const up = framePacket(randomBytes(6 * 1024 * 1024), 0);
    const down = randomBytes(6 * 1024 * 1024);
    const done = relayPipe(client, backend, Buffer.alloc(0), Buffer.alloc(0));
    const [atCompute, atClient] = await Promise.all([drainSlowly(compute, up.length), drainSlowly(clientApp, down.length), send(clientApp, up), send(compute, down)]);
    assert.equal(atCompute.length, up.length);
    assert.equal(digest(atCompute), digest(up));
    assert.equal(atClient.length, down.length);
    assert.equal(digest(atClient), digest(down));
    clientApp.end();
    assert.equal((await done).end, 'client_closed');
    compute.destroy();
  });
}

test('pipe relay sends the leftovers first and passes a half-close on', async () => {
  const [client, clientApp] = await socketPair();
  const [backend, compute] = await socketPair(shared);
  client.pause();
  backend.pause();
  const atClient = drainSlowly(clientApp, 'early-backend late-backend'.length);
  const chunks: Buffer[] = [];
  compute.on('data', (c: Buffer) => chunks.push(c));
  const done = relayPipe(client, backend, Buffer.from('early-client '), Buffer.from('early-backend '));
  clientApp.write('late-client');
  await new Promise((r) => setTimeout(r, 30));
  compute.end('late-backend');
  const clientEnded = new Promise<void>((resolve) => clientApp.once('end', () => resolve()));
  assert.equal((await atClient).toString(), 'early-backend late-backend');
  assert.equal(Buffer.concat(chunks).toString(), 'early-client late-client');
  await clientEnded;
  assert.equal((await done).end, 'backend_closed');
  clientApp.destroy();
});

test('a compute socket with shared-buffer reads keeps bytes in order across pause, divert and undivert', async () => {
  const [backend, compute] = await socketPair(shared);
  const data = randomBytes(3 * 1024 * 1024);
  const got: Buffer[] = [];
  const onData = (c: Buffer) => got.push(c);
  backend.on('data', onData);
  const sending = send(compute, data).then(() => compute.end());
  // Alternate between 'data' events (paused now and then) and a diverted sink that
  // sometimes asks to stop reading.
  let sinkCalls = 0;
  const sink = {
    onBackendData(chunk: Buffer): boolean {
      got.push(chunk);
      if (++sinkCalls % 5 === 0) {
        setTimeout(() => backend.resume(), 1);
        return false;
      }
      return true;
    },
  };
  const ended = new Promise<void>((resolve) => backend.once('end', () => resolve()));
  for (let i = 0; i < 40 && !backend.readableEnded; i++) {
    await new Promise((r) => setTimeout(r, 3));
    if (i % 2 === 0) {
      backend.pause();
      backend.off('data', onData);
      assert.equal(divert(backend, sink), true);
      backend.resume();
    } else {
      undivert(backend);
      backend.on('data', onData);
    }
  }
  undivert(backend);
  backend.off('data', onData);
  backend.on('data', onData);
  backend.resume();
  await sending;
  await ended;
  const all = Buffer.concat(got);
  assert.equal(all.length, data.length);
  assert.equal(digest(all), digest(data));
  backend.destroy();
});

test('pipe relay keeps the handshake leftover ahead of what the paused compute socket read since', async () => {
  const [client, clientApp] = await socketPair();
  const [backend, compute] = await socketPair(shared);
  client.pause();
  backend.pause();
  compute.write('late');
  await new Promise((r) => setTimeout(r, 30));
  const atClient = drainSlowly(clientApp, 'early late'.length);
  const done = relayPipe(client, backend, Buffer.alloc(0), Buffer.from('early '));
  assert.equal((await atClient).toString(), 'early late');
  clientApp.end();
  assert.equal((await done).end, 'client_closed');
  compute.destroy();
});

test('a paused compute socket keeps reading into its buffer, and divert hands those bytes over first', async () => {
  const [backend, compute] = await socketPair(shared);
  const got: Buffer[] = [];
  backend.on('data', (c: Buffer) => got.push(c));
  compute.write('one ');
  await new Promise((r) => setTimeout(r, 20));
  backend.pause();
  backend.removeAllListeners('data');
  compute.write('two ');
  await new Promise((r) => setTimeout(r, 20));
  const sunk: Buffer[] = [];
  divert(backend, { onBackendData: (c) => (sunk.push(c), true) });
  compute.write('three');
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(Buffer.concat(got).toString(), 'one ');
  assert.equal(Buffer.concat(sunk).toString(), 'two three');
  backend.destroy();
  compute.destroy();
});

test('divert refuses a socket it did not make', async () => {
  const [near, far] = await socketPair();
  assert.equal(divert(near, { onBackendData: () => true }), false);
  near.destroy();
  far.destroy();
});

test('session relay over a shared-buffer compute socket hands it back paused, with nothing lost', async () => {
  const [client, clientApp] = await socketPair();
  const [backend, compute] = await socketPair(shared);
  const atClient: Buffer[] = [];
  clientApp.on('data', (c: Buffer) => atClient.push(c));
  backend.pause();
  const done = relaySession(client, Buffer.alloc(0), { socket: backend });
  clientApp.write(framePacket(writeComQuery('SELECT 1'), 0));
  compute.write(Buffer.from('reply bytes'));
  await new Promise((r) => setTimeout(r, 50));
  // The relay marks the end of the client's replies with a fence; the compute answers it.
  const answered = new Promise<void>((resolve) => {
    const onFence = (c: Buffer) => {
      const answer = fenceAnswer(c);
      if (!answer) return;
      compute.off('data', onFence);
      compute.write(answer);
      resolve();
    };
    compute.on('data', onFence);
  });
  clientApp.write(framePacket(writeComQuit(), 0));
  await answered;
  const outcome = await done;
  assert.equal(outcome.end, 'client_quit');
  assert.equal(Buffer.concat(atClient).toString(), 'reply bytes');
  assert.equal(backend.isPaused(), true);
  // What the compute says next belongs to the pool's next reader, as 'data'.
  compute.write(Buffer.from('reset reply'));
  const next = new Promise<Buffer>((resolve) => backend.once('data', resolve));
  backend.resume();
  assert.equal((await next).toString(), 'reset reply');
  backend.destroy();
  compute.destroy();
  clientApp.destroy();
});
