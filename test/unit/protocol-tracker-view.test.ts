// An OK's session state as a client's own trackers would report it (protocol/tracker-view.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CLIENT_PROTOCOL_41,
  CLIENT_SESSION_TRACK,
  ProtocolError,
  SERVER_SESSION_STATE_CHANGED,
  SERVER_STATUS_AUTOCOMMIT,
  okLayout,
  sessionStateAs,
  trackerView,
  withTracker,
  writeOkPacket,
  type TrackerView,
} from '../../protocol/index.js';

const CAPS = CLIENT_PROTOCOL_41 | CLIENT_SESSION_TRACK;
const FLAGGED = SERVER_STATUS_AUTOCOMMIT | SERVER_SESSION_STATE_CHANGED;

function lenenc(s: string | Buffer): Buffer {
  const b = Buffer.isBuffer(s) ? s : Buffer.from(s, 'latin1');
  return Buffer.concat([Buffer.from([b.length]), b]);
}
const variable = (name: string, value: string) => Buffer.concat([Buffer.from([0]), lenenc(Buffer.concat([lenenc(name), lenenc(value)]))]);
const schema = (name: string) => Buffer.concat([Buffer.from([1]), lenenc(lenenc(name))]);
const STATE_CHANGE = Buffer.concat([Buffer.from([2]), lenenc(lenenc('1'))]);

/** An OK (header 0x00, or 0xfe ending a result set) carrying `entries` in its session-state block. */
function ok(entries: Buffer[], info = '', header = 0x00): Buffer {
  const p = writeOkPacket({ affectedRows: 0, lastInsertId: 0, statusFlags: FLAGGED, warnings: 0, info, sessionState: lenenc(Buffer.concat(entries)) }, CAPS);
  p[0] = header;
  return p;
}

function as(payload: Buffer, view: TrackerView): Buffer | null {
  const { stateAt } = okLayout(payload, 0, payload.length);
  return sessionStateAs(payload, 0, payload.length, stateAt, view);
}

const DEFAULTS = trackerView('autocommit,character_set_client,character_set_connection,character_set_results,time_zone', '1', '0');
const EVERYTHING = trackerView('*', 'ON', 'ON');

test('trackerView: the list lowercased, * for every variable, the switches as SELECT or SET say them; anything else fails', () => {
  assert.deepEqual(trackerView('Autocommit, time_zone', 'ON', 'OFF'), { variables: ['autocommit', 'time_zone'], schema: true, stateChange: false });
  assert.deepEqual(trackerView('*', '0', '1'), { variables: null, schema: false, stateChange: true });
  assert.deepEqual(trackerView('', '1', '1').variables, []);
  assert.throws(() => trackerView('*', 'yes', '0'), ProtocolError);
  assert.throws(() => trackerView('*', '1', ''), ProtocolError);
});

test('withTracker: a tracker the client set, as the compute reports it; any other variable leaves the view as it is', () => {
  assert.deepEqual(withTracker(DEFAULTS, 'session_track_state_change', 'ON'), { ...DEFAULTS, stateChange: true });
  assert.deepEqual(withTracker(DEFAULTS, 'session_track_schema', 'OFF'), { ...DEFAULTS, schema: false });
  assert.deepEqual(withTracker(DEFAULTS, 'session_track_system_variables', 'sql_mode,Time_Zone'), { ...DEFAULTS, variables: ['sql_mode', 'time_zone'] });
  assert.equal(withTracker(DEFAULTS, 'time_zone', '+01:00'), DEFAULTS);
  assert.throws(() => withTracker(DEFAULTS, 'session_track_schema', 'maybe'), ProtocolError);
  // The login's view is never changed.
  assert.equal(DEFAULTS.stateChange, false);
});

test('the variables the client tracks and the schema are kept, in the order they came; the state change and other variables go', () => {
  const payload = ok([variable('sql_mode', 'ANSI'), variable('time_zone', '+01:00'), variable('character_set_client', 'latin1'), schema('fid'), STATE_CHANGE]);
  assert.deepEqual(as(payload, DEFAULTS), ok([variable('time_zone', '+01:00'), variable('character_set_client', 'latin1'), schema('fid')]));
});

test('an OK that is already what the client tracks is left alone (null)', () => {
  assert.equal(as(ok([variable('sql_mode', 'ANSI'), STATE_CHANGE]), EVERYTHING), null);
  assert.equal(as(ok([variable('time_zone', 'SYSTEM'), schema('x')]), DEFAULTS), null);
});

test('nothing the client tracks: the OK the server writes then, no block, the flag cleared, an empty info left out', () => {
  const got = as(ok([variable('sql_mode', 'ANSI'), STATE_CHANGE]), DEFAULTS)!;
  assert.deepEqual(got, writeOkPacket({ affectedRows: 0, lastInsertId: 0, statusFlags: SERVER_STATUS_AUTOCOMMIT, warnings: 0, info: '' }, CAPS));
  assert.equal(got.length, 7);
  // An info string stays.
  const withInfo = as(ok([STATE_CHANGE], 'Rows matched: 1'), DEFAULTS)!;
  assert.deepEqual(withInfo, writeOkPacket({ affectedRows: 0, lastInsertId: 0, statusFlags: SERVER_STATUS_AUTOCOMMIT, warnings: 0, info: 'Rows matched: 1' }, CAPS));
});

test('an OK that ends a result set (0xfe) is rewritten the same way; entries of other types go as they came', () => {
  const other = Buffer.concat([Buffer.from([5]), lenenc(lenenc('________'))]);
  const got = as(ok([STATE_CHANGE, other, variable('autocommit', 'OFF')], '', 0xfe), DEFAULTS)!;
  assert.deepEqual(got, ok([other, variable('autocommit', 'OFF')], '', 0xfe));
});

test('a block cut short anywhere fails with a ProtocolError, never reads past the packet', () => {
  const payload = ok([variable('time_zone', '+01:00'), schema('fid'), STATE_CHANGE]);
  const { stateAt } = okLayout(payload, 0, payload.length);
  for (let end = stateAt + 1; end < payload.length; end++) {
    assert.throws(() => sessionStateAs(payload, 0, end, stateAt, DEFAULTS), ProtocolError, `cut at ${end}`);
  }
});
