import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PacketReader } from '../../protocol/packet-reader.js';
import { ProtocolError } from '../../protocol/protocol-error.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

test('fixed-width integers are little-endian', () => {
  const r = new PacketReader(hex('01 0201 030201 04030201 0807060504030201'));
  assert.equal(r.u8('a'), 0x01);
  assert.equal(r.u16('b'), 0x0102);
  assert.equal(r.u24('c'), 0x010203);
  assert.equal(r.u32('d'), 0x01020304);
  assert.equal(r.u64('e'), 0x0102030405060708n);
  assert.equal(r.remaining, 0);
});

test('u32 stays unsigned with the top bit set', () => {
  assert.equal(new PacketReader(hex('ffffffff')).u32('caps'), 0xffffffff);
});

test('starts at the given offset', () => {
  const r = new PacketReader(hex('aabbcc'), 1);
  assert.equal(r.u8('x'), 0xbb);
  assert.equal(r.remaining, 1);
});

test('lenencInt reads every width', () => {
  const r = new PacketReader(hex('fa fc fb00 fd 000001 fe 0000000001000000'));
  assert.equal(r.lenencInt('a'), 250);
  assert.equal(r.lenencInt('b'), 251);
  assert.equal(r.lenencInt('c'), 0x010000);
  assert.equal(r.lenencInt('d'), 0x0100000000);
});

test('lenencInt rejects NULL, 0xff and values past MAX_SAFE_INTEGER', () => {
  assert.throws(() => new PacketReader(hex('fb')).lenencInt('affected rows'), {
    name: 'ProtocolError',
    message: 'unexpected NULL reading affected rows',
  });
  assert.throws(() => new PacketReader(hex('ff')).lenencInt('n'), ProtocolError);
  assert.throws(() => new PacketReader(hex('fe 0000000000002000')).lenencInt('n'), /too large/);
  assert.equal(new PacketReader(hex('fe ffffffffffff1f00')).lenencInt('n'), Number.MAX_SAFE_INTEGER);
});

test('truncated reads throw ProtocolError naming the field and packet', () => {
  const r = new PacketReader(hex('0102'), 0, 'HandshakeResponse41');
  assert.throws(() => r.u32('user'), {
    name: 'ProtocolError',
    message: 'HandshakeResponse41: truncated reading user',
  });
  assert.equal(r.offset, 0, 'a failed read consumes nothing');
  const reads: Array<() => unknown> = [
    () => new PacketReader(hex('0102')).u24('f'),
    () => new PacketReader(hex('0102')).u64('f'),
    () => new PacketReader(hex('0102')).bytes(3, 'f'),
    () => new PacketReader(hex('0102')).skip(3, 'f'),
    () => new PacketReader(hex('')).u8('f'),
    () => new PacketReader(hex('fc01')).lenencInt('f'),
    () => new PacketReader(hex('05 6162')).lenencString('f'),
  ];
  for (const read of reads) assert.throws(read, ProtocolError);
});

test('bytes returns a view, not a copy', () => {
  const buf = hex('01020304');
  const view = new PacketReader(buf, 1).bytes(2, 'x');
  buf[1] = 0xaa;
  assert.equal(view[0], 0xaa);
});

test('bytes rejects negative and fractional lengths', () => {
  assert.throws(() => new PacketReader(hex('0102')).bytes(-1, 'x'), ProtocolError);
  assert.throws(() => new PacketReader(hex('0102')).bytes(1.5, 'x'), ProtocolError);
});

test('nulString consumes the terminator', () => {
  const r = new PacketReader(Buffer.from('root\0caf\u00e9\0!', 'utf8'));
  assert.equal(r.nulString('user'), 'root');
  assert.equal(r.nulString('db'), 'caf\u00e9');
  assert.equal(r.restString(), '!');
  assert.equal(r.remaining, 0);
});

test('nulBytes without a terminator fails and never looks past the end of a view', () => {
  const backing = Buffer.from('abc\0', 'utf8');
  const r = new PacketReader(backing.subarray(0, 3), 0, 'HandshakeV10');
  assert.throws(() => r.nulBytes('server version'), {
    message: 'HandshakeV10: truncated reading server version (no NUL terminator)',
  });
});

test('lenencString measures bytes, not characters', () => {
  const r = new PacketReader(hex('03 e282ac 00'));
  assert.equal(r.lenencString('v'), '\u20ac');
  assert.equal(r.lenencString('empty'), '');
});

test('rest takes everything and leaves the reader empty', () => {
  const r = new PacketReader(hex('010203'), 1);
  assert.deepEqual([...r.rest()], [2, 3]);
  assert.equal(r.rest().length, 0);
});

test('constructor rejects an offset outside the buffer', () => {
  assert.throws(() => new PacketReader(hex('01'), 2), ProtocolError);
});
