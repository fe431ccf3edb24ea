// The session-state block of an OK: read in place, every truncated prefix failing
// cleanly, and the OK rewritten for a client without CLIENT_SESSION_TRACK.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CLIENT_PROTOCOL_41, CLIENT_SESSION_TRACK, SERVER_SESSION_STATE_CHANGED, SERVER_STATUS_AUTOCOMMIT } from '../../protocol/constants.js';
import { writeOkPacket, parseOkPacket } from '../../protocol/packets/ok-packet.js';
import { okLayout, readSessionState, withoutSessionState } from '../../protocol/session-state.js';
import { ProtocolError } from '../../protocol/protocol-error.js';
import { judgeQuery } from '../../relay/pin-rules.js';

const lenenc = (s: string) => Buffer.concat([Buffer.from([Buffer.byteLength(s)]), Buffer.from(s)]);
const entry = (type: number, data: Buffer) => Buffer.concat([Buffer.from([type, data.length]), data]);
const block = Buffer.concat([
  entry(0, Buffer.concat([lenenc('time_zone'), lenenc('+05:00')])),
  entry(1, lenenc('shop')),
  entry(2, lenenc('1')),
]);
const CAPS = CLIENT_PROTOCOL_41 | CLIENT_SESSION_TRACK;
const flagged = writeOkPacket(
  { affectedRows: 0, lastInsertId: 0, statusFlags: SERVER_STATUS_AUTOCOMMIT | SERVER_SESSION_STATE_CHANGED, warnings: 0, info: '', sessionState: Buffer.concat([Buffer.from([block.length]), block]) },
  CAPS,
);

function read(buf: Buffer): string[] {
  const seen: string[] = [];
  const { stateAt } = okLayout(buf, 0, buf.length);
  if (stateAt < 0) return ['none'];
  readSessionState(buf, stateAt, buf.length, {
    variable: (n, v) => seen.push(`${n}=${v}`),
    schema: (s) => seen.push(`schema=${s}`),
    stateChanged: () => seen.push('changed'),
    other: (t) => seen.push(`other ${t}`),
  });
  return seen;
}

test('reads each change of a flagged OK', () => {
  assert.deepEqual(read(flagged), ['time_zone=+05:00', 'schema=shop', 'changed']);
});

test('every truncated prefix fails with a ProtocolError, but those that are whole OKs without state', () => {
  // 7 bytes: header, two lenencs, status, warnings; 8: and an empty info. Flagged without a
  // block, the relay pins (a change it was not told about).
  for (let n = 0; n < flagged.length; n++) {
    if (n === 7 || n === 8) assert.deepEqual(read(flagged.subarray(0, n)), ['none']);
    else assert.throws(() => read(flagged.subarray(0, n)), ProtocolError, `prefix ${n}`);
  }
});

test('without its session state, the OK is what a client without session tracking reads', () => {
  const stripped = withoutSessionState(flagged, 0, flagged.length);
  const ok = parseOkPacket(stripped, CLIENT_PROTOCOL_41);
  assert.equal(ok.statusFlags, SERVER_STATUS_AUTOCOMMIT);
  assert.equal(ok.info, '');
  assert.equal(stripped.length, 7);
});

test('tracked, SET is left to the trackers but what they miss pins, wherever it stands', () => {
  const pin = (sql: string) => judgeQuery(Buffer.from(sql), true).pin;
  for (const sql of ["SET time_zone='+01:00'", 'SET NAMES utf8mb4', 'USE shop', "IF 1 THEN SET sql_mode=''; END IF"]) assert.equal(pin(sql), null, sql);
  const pins: Array<[string, string]> = [
    ['SET TRANSACTION ISOLATION LEVEL SERIALIZABLE', 'set_statement'],
    ["BEGIN NOT ATOMIC SET time_zone='+01:00'; SET ROLE admin; END", 'set_statement'],
    ["BEGIN NOT ATOMIC PREPARE s FROM 'SELECT 1'; END", 'prepared_statement'],
    ['IF 1 THEN CALL p(); END IF', 'stored_procedure'],
    ['SET @x = 1', 'user_variable'],
  ];
  for (const [sql, reason] of pins) assert.equal(pin(sql), reason, sql);
  assert.deepEqual(judgeQuery(Buffer.from("SET STATEMENT max_statement_time=5, sql_mode='a,b' FOR SELECT 1"), true).temporary, ['max_statement_time', 'sql_mode']);
  assert.equal(judgeQuery(Buffer.from('SET NAMES utf8mb4 COLLATE utf8mb4_bin'), true).collation, 'utf8mb4_bin');
});
