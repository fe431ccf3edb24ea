// sendExpecting: replies compared byte for byte as they come, over a loopback socket that
// cuts them where the test says, and every byte handed on when they differ.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { SAME_REPLIES, sendExpecting } from '../../backend/query.js';
import { ChannelTimeoutError } from '../../socket/packet-channel.js';

const EXPECTED = Buffer.from('0123456789abcdef');

/** A peer that answers the first bytes it gets with `chunks`, each in its own write, then does `after`. */
async function peer(chunks: Buffer[], after: 'stay' | 'close' = 'stay'): Promise<{ socket: Socket; close(): void }> {
  const accepted: Socket[] = [];
  const server = createServer({ noDelay: true }, (s) => {
    accepted.push(s);
    s.once('data', async () => {
      for (const c of chunks) {
        s.write(c);
        await new Promise((r) => setTimeout(r, 5));
      }
      if (after === 'close') s.end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const socket = connect({ port: (server.address() as { port: number }).port, host: '127.0.0.1', noDelay: true });
  await once(socket, 'connect');
  socket.pause();
  return {
    socket,
    close() {
      socket.destroy();
      for (const s of accepted) s.destroy();
      server.close();
    },
  };
}

const target = (socket: Socket) => ({ socket, capabilities: 0, mariadbCapabilities: 0 });

test('the expected bytes, however they are cut, are the same replies; the socket is left paused', async () => {
  const p = await peer([EXPECTED.subarray(0, 3), EXPECTED.subarray(3, 10), EXPECTED.subarray(10)]);
  try {
    assert.equal(await sendExpecting(target(p.socket), Buffer.from('q'), EXPECTED, 2_000), SAME_REPLIES);
    assert.equal(p.socket.isPaused(), true);
    assert.equal(p.socket.listenerCount('data'), 0);
  } finally {
    p.close();
  }
});

for (const [what, replies, cut] of [
  ['a difference in a later chunk hands on every byte read so far', Buffer.from('0123456789abcdeX'), 6],
  ['bytes beyond the expected ones are a difference, handed on with the rest', Buffer.concat([EXPECTED, Buffer.from('extra')]), 4],
] as const) {
  test(what, async () => {
    const p = await peer([replies.subarray(0, cut), replies.subarray(cut)]);
    try {
      assert.deepEqual(await sendExpecting(target(p.socket), Buffer.from('q'), EXPECTED, 2_000), replies);
    } finally {
      p.close();
    }
  });
}

test('silence times out; a close mid-reply fails', async () => {
  const silent = await peer([]);
  try {
    await assert.rejects(sendExpecting(target(silent.socket), Buffer.from('q'), EXPECTED, 50), ChannelTimeoutError);
  } finally {
    silent.close();
  }
  const closing = await peer([EXPECTED.subarray(0, 5)], 'close');
  try {
    await assert.rejects(sendExpecting(target(closing.socket), Buffer.from('q'), EXPECTED, 2_000), /closed the connection/);
  } finally {
    closing.close();
  }
});
