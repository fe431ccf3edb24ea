// The reply fence: the client's replies go on whole and in order, however the stream
// is cut, and the fence's own reply (its ERR, known to the byte) never does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CLIENT_PROTOCOL_41, COM_QUERY, framePacket, parseErrPacket, writeErrPacket } from '../../protocol/index.js';
import { ReplyFence } from '../../relay/reply-fence.js';
import { fenceAnswer } from '../helpers/fence-answer.js';

/** The fence's ERR as the compute writes it, from the message its command asks for. */
function computeAnswer(fence: ReplyFence): Buffer {
  return fenceAnswer(fence.command)!;
}

const clientReplies = Buffer.concat([
  framePacket(Buffer.from([0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00]), 1), // OK, 1 row
  framePacket(Buffer.from([0x01]), 1), // a result set's column count ...
  framePacket(Buffer.alloc(300, 0x61), 2), // ... and bytes that pass as anything
]);

function run(fence: ReplyFence, stream: Buffer, cut: (s: Buffer) => Buffer[]): { out: Buffer; doneAfter: number } {
  const out: Buffer[] = [];
  let doneAfter = -1;
  const pieces = cut(stream);
  pieces.forEach((piece, i) => {
    out.push(fence.push(piece));
    if (fence.done && doneAfter < 0) doneAfter = i;
  });
  return { out: Buffer.concat(out), doneAfter };
}

test('the command is a COM_QUERY of sequence 0 asking for an ERR with a fresh token', () => {
  const a = new ReplyFence();
  const b = new ReplyFence();
  assert.equal(a.command[3], 0);
  assert.equal(a.command[4], COM_QUERY);
  assert.match(a.command.subarray(5).toString('latin1'), /^SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'wake-proxy quit fence [0-9a-f]{32}'$/);
  assert.notDeepEqual(a.command, b.command);
  const err = parseErrPacket(computeAnswer(a).subarray(4), CLIENT_PROTOCOL_41);
  assert.equal(err.code, 1644);
});

test('replies before the fence go on whole, the fence reply never, in one chunk or byte by byte', () => {
  const cuts: Array<[string, (s: Buffer) => Buffer[]]> = [
    ['one chunk', (s) => [s]],
    ['byte by byte', (s) => [...s].map((b) => Buffer.from([b]))],
    ['chunks of 7', (s) => Array.from({ length: Math.ceil(s.length / 7) }, (_, i) => s.subarray(i * 7, i * 7 + 7))],
  ];
  for (const [name, cut] of cuts) {
    const fence = new ReplyFence();
    const stream = Buffer.concat([clientReplies, computeAnswer(fence)]);
    const { out, doneAfter } = run(fence, stream, cut);
    assert.deepEqual(out, clientReplies, name);
    assert.equal(doneAfter, cut(stream).length - 1, `${name}: done with the last byte, not before`);
    assert.equal(fence.push(Buffer.from('more')).length, 0, 'nothing passes after the fence');
  }
});

test('a reply that looks like the start of the fence reply is not mistaken for it', () => {
  const fence = new ReplyFence();
  const answer = computeAnswer(fence);
  // Another ERR of the same code and state with another message: the client's own.
  const lookalike = framePacket(writeErrPacket({ code: 1644, sqlState: '45000', message: 'wake-proxy quit fence 0' }, CLIENT_PROTOCOL_41), 1);
  const first = fence.push(lookalike);
  assert.equal(fence.done, false);
  const second = fence.push(answer.subarray(0, 10));
  const third = fence.push(answer.subarray(10));
  assert.equal(fence.done, true);
  assert.deepEqual(Buffer.concat([first, second, third]), lookalike);
});

test('a stream that ends without the fence reply hands back what was held: it was the client\'s', () => {
  const fence = new ReplyFence();
  const out = fence.push(clientReplies);
  assert.equal(fence.done, false);
  assert.deepEqual(Buffer.concat([out, fence.rest()]), clientReplies);
});
