import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CLIENT_PROTOCOL_41 } from '../../protocol/constants.js';
import { isErrPacket, parseErrPacket, writeErrPacket, type ErrPacket } from '../../protocol/packets/err-packet.js';
import { ProtocolError } from '../../protocol/protocol-error.js';

const hex = (s: string): Buffer => Buffer.from(s, 'hex');

// Captured from MariaDB 10.11.
const NO_SUCH_TABLE = hex('ff7a042334325330325461626c65202773686f702e6e6f737563682720646f65736e2774206578697374');
const ACCESS_DENIED = hex(
  'ff15042332383030304163636573732064656e69656420666f72207573657220276170702740276c6f63616c686f73742720287573696e' +
    '672070617373776f72643a2059455329',
);

test('parses the captured errors and writes them back byte for byte', () => {
  const cases: Array<[Buffer, ErrPacket]> = [
    [NO_SUCH_TABLE, { code: 1146, sqlState: '42S02', message: "Table 'shop.nosuch' doesn't exist" }],
    [
      ACCESS_DENIED,
      { code: 1045, sqlState: '28000', message: "Access denied for user 'app'@'localhost' (using password: YES)" },
    ],
  ];
  for (const [bytes, expected] of cases) {
    assert.ok(isErrPacket(bytes));
    assert.deepEqual(parseErrPacket(bytes, CLIENT_PROTOCOL_41), expected);
    assert.ok(writeErrPacket(expected, CLIENT_PROTOCOL_41).equals(bytes));
  }
});

test('tolerates a missing SQLSTATE marker, as in errors sent before the handshake', () => {
  const bytes = Buffer.concat([hex('ff1004'), Buffer.from('Too many connections')]);
  assert.deepEqual(parseErrPacket(bytes, CLIENT_PROTOCOL_41), {
    code: 1040,
    sqlState: 'HY000',
    message: 'Too many connections',
  });
});

test('without CLIENT_PROTOCOL_41 there is no SQLSTATE on the wire', () => {
  const p: ErrPacket = { code: 1045, sqlState: '28000', message: 'denied' };
  const bytes = writeErrPacket(p, 0);
  assert.equal(bytes.toString('hex'), 'ff1504' + Buffer.from('denied').toString('hex'));
  assert.deepEqual(parseErrPacket(bytes, 0), { ...p, sqlState: 'HY000' });
});

test('round-trips a unicode message', () => {
  const p: ErrPacket = {
    code: 4031,
    sqlState: 'HY000',
    message: 'projet \u00ab caf\u00e9 \u00bb en veille \u2014 r\u00e9veil \u00e9chou\u00e9',
  };
  assert.deepEqual(parseErrPacket(writeErrPacket(p, CLIENT_PROTOCOL_41), CLIENT_PROTOCOL_41), p);
});

test('every truncated prefix of the code and SQLSTATE fails with ProtocolError', () => {
  for (let n = 0; n < 9; n++) {
    // At 3 bytes the packet is a valid ERR with no marker and no message.
    if (n === 3) continue;
    const prefix = NO_SUCH_TABLE.subarray(0, n);
    assert.throws(() => parseErrPacket(prefix, CLIENT_PROTOCOL_41), ProtocolError, `prefix of ${n} bytes`);
  }
  assert.deepEqual(parseErrPacket(NO_SUCH_TABLE.subarray(0, 3), CLIENT_PROTOCOL_41), {
    code: 1146,
    sqlState: 'HY000',
    message: '',
  });
});

test('refuses to write a malformed SQLSTATE', () => {
  for (const sqlState of ['', '2800', '280000', '28 00', 'h\u00e9000']) {
    assert.throws(() => writeErrPacket({ code: 1, sqlState, message: '' }, CLIENT_PROTOCOL_41), ProtocolError);
  }
});

test('isErrPacket looks at the header only', () => {
  assert.equal(isErrPacket(hex('00000002000000')), false);
  assert.equal(isErrPacket(Buffer.alloc(0)), false);
  assert.throws(() => parseErrPacket(hex('fe00000200'), CLIENT_PROTOCOL_41), /ERR_Packet: unexpected header 0xfe/);
});
