// The compressed client hop over a loopback socket pair: plain bytes in and out, and
// compressed sequence ids numbered as MariaDB numbers them (a reply goes on from the
// id of the client's last compressed packet).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CompressedPacketReader, framePacket, writeComQuery, writeCompressedPackets } from '../../protocol/index.js';
import { compressedClient } from '../../socket/compressed-socket.js';
import { socketPair } from '../helpers/socket-pair.js';

test('plain bytes each way; the reply numbered on from the command, the leftover read first', async () => {
  const [far, near] = await socketPair();
  const command = framePacket(writeComQuery('SELECT 1'), 0);
  const first = writeCompressedPackets(command, 0).packets[0]!;
  // The first command arrived with the login's last bytes; the second comes later, as compressed packet 0 again.
  const client = compressedClient(near, first);
  const received: Buffer[] = [];
  client.on('data', (c: Buffer) => received.push(c));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(Buffer.concat(received), command);

  const reader = new CompressedPacketReader();
  const atClient: Buffer[] = [];
  const ids: number[] = [];
  far.on('data', (c: Buffer) => {
    atClient.push(...reader.push(c));
    ids.push(reader.lastSequenceId);
  });
  const reply = Buffer.alloc(300, 0x62);
  client.write(reply);
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(Buffer.concat(atClient), reply);
  assert.equal(ids.at(-1), 1, 'the reply to compressed packet 0 is packet 1');

  far.write(writeCompressedPackets(command, 0).packets[0]!);
  await new Promise((r) => setTimeout(r, 50));
  client.write(Buffer.from('ok'));
  client.write(Buffer.from('ok'));
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(ids.at(-1), 2, 'two writes, two packets: 1 and 2');
  assert.equal(Buffer.concat(atClient).subarray(reply.length).toString(), 'okok');

  const closed = new Promise((r) => client.once('close', r));
  far.end();
  await closed;
  assert.equal(near.destroyed, true);
});

test('bad compressed bytes from the client destroy the session', async () => {
  const [far, near] = await socketPair();
  const client = compressedClient(near, Buffer.alloc(0));
  const failed = new Promise<Error>((resolve) => client.once('error', resolve));
  client.resume();
  const header = Buffer.from([5, 0, 0, 0, 100, 0, 0]);
  far.write(Buffer.concat([header, Buffer.from('junk!')]));
  assert.match((await failed).message, /cannot inflate/);
  far.destroy();
});
