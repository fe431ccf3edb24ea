// Compressed packets (CLIENT_COMPRESS): written and read back whole however the
// stream is cut, runs over 16 MiB split, short or incompressible runs sent as they
// are, and packets that lie about their size refused before they cost memory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { deflateSync } from 'node:zlib';
import {
  COMPRESSED_HEADER_LENGTH,
  CompressedPacketReader,
  MAX_COMPRESSED_PAYLOAD,
  ProtocolError,
  writeCompressedPackets,
} from '../../protocol/index.js';

function readAll(bytes: Buffer[], cut: (b: Buffer) => Buffer[]): { plain: Buffer; reader: CompressedPacketReader } {
  const reader = new CompressedPacketReader();
  const out: Buffer[] = [];
  for (const piece of cut(Buffer.concat(bytes))) out.push(...reader.push(piece));
  return { plain: Buffer.concat(out), reader };
}

const oneByOne = (b: Buffer) => [...b].map((x) => Buffer.from([x]));
const whole = (b: Buffer) => [b];

test('a run round-trips whole, in one chunk or byte by byte; sequence ids count on', () => {
  const plain = Buffer.from('SELECT 1; '.repeat(40));
  const { packets, next } = writeCompressedPackets(plain, 5);
  assert.equal(packets.length, 1);
  assert.equal(next, 6);
  assert.equal(packets[0]![3], 5);
  assert.equal(packets[0]!.readUIntLE(4, 3), plain.length, 'compressed: the header holds the plain length');
  for (const cut of [whole, oneByOne]) {
    const { plain: back, reader } = readAll(packets, cut);
    assert.deepEqual(back, plain);
    assert.equal(reader.lastSequenceId, 5);
    assert.equal(reader.pending, 0);
  }
});

test('short and incompressible runs go as they are (uncompressed length 0)', () => {
  for (const plain of [Buffer.from('short'), randomBytes(4096)]) {
    const { packets } = writeCompressedPackets(plain, 0);
    assert.equal(packets[0]!.readUIntLE(4, 3), 0);
    assert.deepEqual(packets[0]!.subarray(COMPRESSED_HEADER_LENGTH), plain);
    assert.deepEqual(readAll(packets, whole).plain, plain);
  }
});

test('a run over 16 MiB is split into compressed packets of at most 16 MiB - 1 plain bytes, numbered on (wrapping at 256)', () => {
  const plain = Buffer.alloc(MAX_COMPRESSED_PAYLOAD * 2 + 10, 0x61);
  const { packets, next } = writeCompressedPackets(plain, 255);
  assert.deepEqual(packets.map((p) => p[3]), [255, 0, 1]);
  assert.equal(next, 2);
  // The 10-byte tail is too short to deflate: sent as it is.
  assert.deepEqual(packets.map((p) => p.readUIntLE(4, 3)), [MAX_COMPRESSED_PAYLOAD, MAX_COMPRESSED_PAYLOAD, 0]);
  const cut = (b: Buffer) => Array.from({ length: Math.ceil(b.length / 1000) }, (_, i) => b.subarray(i * 1000, i * 1000 + 1000));
  assert.ok(readAll(packets, cut).plain.equals(plain));
});

test('several compressed packets in one chunk come back in order', () => {
  const a = writeCompressedPackets(Buffer.from('a'.repeat(100)), 0);
  const b = writeCompressedPackets(Buffer.from('b'.repeat(3)), a.next);
  const { plain, reader } = readAll([...a.packets, ...b.packets], whole);
  assert.equal(plain.toString(), 'a'.repeat(100) + 'bbb');
  assert.equal(reader.lastSequenceId, 1);
});

function packet(payload: Buffer, plainLength: number): Buffer {
  const header = Buffer.alloc(COMPRESSED_HEADER_LENGTH);
  header.writeUIntLE(payload.length, 0, 3);
  header.writeUIntLE(plainLength, 4, 3);
  return Buffer.concat([header, payload]);
}

test('a packet that inflates to more or less than its header says, or does not inflate, is refused', () => {
  const big = deflateSync(Buffer.alloc(1_000_000));
  assert.throws(() => new CompressedPacketReader().push(packet(big, 100)), ProtocolError, 'more than promised: stopped at the promise');
  assert.throws(() => new CompressedPacketReader().push(packet(deflateSync(Buffer.alloc(10)), 100)), ProtocolError);
  assert.throws(() => new CompressedPacketReader().push(packet(Buffer.from('not zlib at all'), 100)), ProtocolError);
});

test('a packet not yet whole is held, nothing inflated early', () => {
  const { packets } = writeCompressedPackets(Buffer.from('x'.repeat(500)), 0);
  const reader = new CompressedPacketReader();
  assert.deepEqual(reader.push(packets[0]!.subarray(0, 10)), []);
  assert.equal(reader.pending, 10);
  assert.equal(reader.push(packets[0]!.subarray(10)).length, 1);
});
