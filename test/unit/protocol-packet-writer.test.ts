import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PacketReader } from '../../protocol/packet-reader.js';
import { PacketWriter } from '../../protocol/packet-writer.js';
import { ProtocolError } from '../../protocol/protocol-error.js';

test('writes little-endian integers', () => {
  const w = new PacketWriter().u8(1).u16(0x0102).u24(0x010203).u32(0xffffffff);
  assert.equal(w.payload().toString('hex'), '01' + '0201' + '030201' + 'ffffffff');
  assert.equal(w.length, 10);
});

test('lenencInt picks the shortest form at each boundary', () => {
  const cases: Array<[number, string]> = [
    [0, '00'],
    [250, 'fa'],
    [251, 'fcfb00'],
    [0xffff, 'fcffff'],
    [0x10000, 'fd000001'],
    [0xffffff, 'fdffffff'],
    [0x1000000, 'fe0000000100000000'],
    [Number.MAX_SAFE_INTEGER, 'feffffffffffff1f00'],
  ];
  for (const [n, expected] of cases) {
    const bytes = new PacketWriter().lenencInt(n).payload();
    assert.equal(bytes.toString('hex'), expected, `lenenc ${n}`);
    assert.equal(new PacketReader(bytes).lenencInt('n'), n);
  }
});

test('out-of-range values throw ProtocolError instead of wrapping', () => {
  assert.throws(() => new PacketWriter().u8(256), ProtocolError);
  assert.throws(() => new PacketWriter().u16(-1), ProtocolError);
  assert.throws(() => new PacketWriter().u24(0x1000000), ProtocolError);
  assert.throws(() => new PacketWriter().u32(0x100000000), ProtocolError);
  assert.throws(() => new PacketWriter().u32(1.5), ProtocolError);
  assert.throws(() => new PacketWriter().lenencInt(-1), ProtocolError);
  assert.throws(() => new PacketWriter().lenencInt(2 ** 60), ProtocolError);
});

test('strings are measured in UTF-8 bytes', () => {
  const w = new PacketWriter().lenencString('\u20ac').string('\u00e9').nulString('\u00fc');
  assert.equal(w.payload().toString('hex'), '03e282ac' + 'c3a9' + 'c3bc00');
});

test('buffers are written as given', () => {
  const w = new PacketWriter()
    .lenencString(Buffer.from([0, 1]))
    .nulString(Buffer.from('ab'))
    .bytes(new Uint8Array([9]));
  assert.equal(w.payload().toString('hex'), '020001' + '616200' + '09');
});

test('nulString refuses an embedded NUL', () => {
  assert.throws(() => new PacketWriter().nulString('a\0b'), ProtocolError);
  assert.throws(() => new PacketWriter().nulString(Buffer.from([1, 0])), ProtocolError);
});

test('grows past its initial capacity and keeps earlier bytes', () => {
  const w = new PacketWriter(1);
  for (let i = 0; i < 1000; i++) w.u8(i & 0xff);
  w.zeros(5000).bytes(Buffer.alloc(70000, 7));
  const p = w.payload();
  assert.equal(p.length, 76000);
  for (let i = 0; i < 1000; i++) assert.equal(p[i], i & 0xff);
  assert.equal(p[1000 + 4999], 0);
  assert.equal(p[p.length - 1], 7);
});

test('a payload taken earlier is not changed by later writes', () => {
  const w = new PacketWriter(16).u8(1);
  const first = w.payload();
  w.bytes(Buffer.alloc(100, 9));
  assert.deepEqual([...first], [1]);
});

test('zeros writes zeros over recycled memory', () => {
  const p = new PacketWriter(4096).zeros(4096).payload();
  assert.ok(p.every((b) => b === 0));
});
