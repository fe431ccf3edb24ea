import { test } from 'node:test';
import assert from 'node:assert/strict';
import { framePacket, MAX_PAYLOAD_LENGTH, PacketFramer, type Packet } from '../../protocol/framing.js';
import { ProtocolError } from '../../protocol/protocol-error.js';

const NO_LIMIT = 1 << 30;

function pushAll(framer: PacketFramer, stream: Buffer, chunkSize: number): Packet[] {
  const out: Packet[] = [];
  for (let i = 0; i < stream.length; i += chunkSize) out.push(...framer.push(stream.subarray(i, i + chunkSize)));
  return out;
}

/** A small deterministic PRNG so failures reproduce. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const samples: Packet[] = [
  { sequenceId: 0, payload: Buffer.from('0373656c6563742031', 'hex') },
  { sequenceId: 1, payload: Buffer.alloc(0) },
  { sequenceId: 2, payload: Buffer.alloc(300, 0xab) },
  { sequenceId: 255, payload: Buffer.from('fe00000200', 'hex') },
];
const sampleStream = Buffer.concat(samples.map((p) => framePacket(p.payload, p.sequenceId)));

test('framePacket writes a 3-byte length and the sequence id', () => {
  assert.equal(framePacket(Buffer.from('0e', 'hex'), 0).toString('hex'), '010000000e');
  assert.equal(framePacket(Buffer.alloc(0), 7).toString('hex'), '00000007');
  assert.equal(framePacket(Buffer.alloc(0x0102ab), 3).subarray(0, 4).toString('hex'), 'ab020103');
});

test('framePacket rejects a sequence id outside 0..255', () => {
  assert.throws(() => framePacket(Buffer.alloc(1), 256), ProtocolError);
  assert.throws(() => framePacket(Buffer.alloc(1), -1), ProtocolError);
});

test('many packets in one chunk come out in order', () => {
  const packets = new PacketFramer(NO_LIMIT).push(sampleStream);
  assert.deepEqual(packets, samples);
});

test('fed one byte at a time, every packet comes out whole', () => {
  const framer = new PacketFramer(NO_LIMIT);
  assert.deepEqual(pushAll(framer, sampleStream, 1), samples);
  assert.equal(framer.buffered, 0);
});

test('randomly split streams give the same packets', () => {
  const rand = prng(42);
  for (let round = 0; round < 200; round++) {
    const framer = new PacketFramer(NO_LIMIT);
    const out: Packet[] = [];
    for (let i = 0; i < sampleStream.length; ) {
      const n = 1 + Math.floor(rand() * 40);
      out.push(...framer.push(sampleStream.subarray(i, i + n)));
      i += n;
    }
    assert.deepEqual(out, samples);
  }
});

test('partial data stays buffered until the packet completes', () => {
  const framer = new PacketFramer(NO_LIMIT);
  const framed = framePacket(Buffer.from('hello'), 4);
  assert.deepEqual(framer.push(framed.subarray(0, 6)), []);
  assert.equal(framer.buffered, 6);
  assert.deepEqual(framer.push(framed.subarray(6)), [{ sequenceId: 4, payload: Buffer.from('hello') }]);
  assert.equal(framer.buffered, 0);
});

test('a 16 MiB + 1 payload splits into a full fragment and a 2-byte one, and joins back', () => {
  const payload = Buffer.alloc(16 * 1024 * 1024 + 1, 0x5a);
  payload[0] = 1;
  payload[payload.length - 1] = 2;
  const framed = framePacket(payload, 254);
  assert.equal(framed.length, payload.length + 8);
  assert.equal(framed.subarray(0, 4).toString('hex'), 'fffffffe');
  assert.equal(framed.subarray(4 + MAX_PAYLOAD_LENGTH, 8 + MAX_PAYLOAD_LENGTH).toString('hex'), '020000ff');
  const packets = pushAll(new PacketFramer(NO_LIMIT), framed, 65536);
  assert.equal(packets.length, 1);
  assert.equal(packets[0]!.sequenceId, 255);
  assert.ok(packets[0]!.payload.equals(payload));
});

test('an exactly 0xffffff payload gets an empty trailing fragment', () => {
  const payload = Buffer.alloc(MAX_PAYLOAD_LENGTH, 0x33);
  const framed = framePacket(payload, 0);
  assert.equal(framed.length, MAX_PAYLOAD_LENGTH + 8);
  assert.equal(framed.subarray(framed.length - 4).toString('hex'), '00000001');
  const framer = new PacketFramer(NO_LIMIT);
  assert.deepEqual(framer.push(framed.subarray(0, framed.length - 4)), [], 'not complete without the empty fragment');
  const packets = framer.push(framed.subarray(framed.length - 4));
  assert.equal(packets.length, 1);
  assert.equal(packets[0]!.sequenceId, 1);
  assert.equal(packets[0]!.payload.length, MAX_PAYLOAD_LENGTH);
});

test('fragment sequence ids wrap from 255 to 0', () => {
  const framed = framePacket(Buffer.alloc(MAX_PAYLOAD_LENGTH + 10), 255);
  assert.equal(framed[3], 255);
  assert.equal(framed[MAX_PAYLOAD_LENGTH + 7], 0);
  const [packet] = new PacketFramer(NO_LIMIT).push(framed);
  assert.equal(packet!.sequenceId, 0);
});

test('a continuation with the wrong sequence id is rejected', () => {
  const framed = framePacket(Buffer.alloc(MAX_PAYLOAD_LENGTH + 1), 5);
  framed[MAX_PAYLOAD_LENGTH + 7] = 9;
  assert.throws(() => new PacketFramer(NO_LIMIT).push(framed), /continuation packet has sequence id 9, expected 6/);
});

test('a packet over max_packet_size fails as soon as its header arrives', () => {
  const framer = new PacketFramer(1000);
  assert.deepEqual(framer.push(framePacket(Buffer.alloc(1000), 0)).length, 1, 'exactly the limit is fine');
  const header = framePacket(Buffer.alloc(1001), 1).subarray(0, 4);
  assert.throws(() => framer.push(header), {
    name: 'ProtocolError',
    message: 'packet of 1001 bytes exceeds max_packet_size 1000',
  });
});

test('the limit counts all continuation fragments of a packet', () => {
  const framed = framePacket(Buffer.alloc(MAX_PAYLOAD_LENGTH + 2), 0);
  const framer = new PacketFramer(MAX_PAYLOAD_LENGTH + 1);
  assert.throws(() => framer.push(framed.subarray(0, MAX_PAYLOAD_LENGTH + 8)), /packet of 16777217 bytes exceeds/);
});

test('takeRemaining hands over the unparsed bytes verbatim, headers included', () => {
  const framer = new PacketFramer(NO_LIMIT);
  const first = framePacket(Buffer.from('abc'), 0);
  const second = framePacket(Buffer.from('defgh'), 1);
  const packets = framer.push(Buffer.concat([first, second.subarray(0, 3)]));
  assert.equal(packets.length, 1);
  framer.push(second.subarray(3, 6));
  assert.equal(framer.buffered, 6);
  assert.ok(framer.takeRemaining().equals(second.subarray(0, 6)));
  assert.equal(framer.buffered, 0);
  assert.equal(framer.takeRemaining().length, 0);
  assert.deepEqual(framer.push(first), [{ sequenceId: 0, payload: Buffer.from('abc') }], 'usable again');
});

test('takeRemaining mid-continuation returns the full fragments too', () => {
  const framed = framePacket(Buffer.alloc(MAX_PAYLOAD_LENGTH + 5, 1), 0);
  const framer = new PacketFramer(NO_LIMIT);
  const cut = framed.length - 2;
  assert.deepEqual(pushAll(framer, framed.subarray(0, cut), 1 << 20), []);
  assert.equal(framer.buffered, cut);
  assert.ok(framer.takeRemaining().equals(framed.subarray(0, cut)));
});

test('the constructor rejects a nonsensical limit', () => {
  assert.throws(() => new PacketFramer(-1), ProtocolError);
  assert.throws(() => new PacketFramer(Number.NaN), ProtocolError);
});
