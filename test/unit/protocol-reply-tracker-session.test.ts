// ReplyTracker with a session-state watcher (transaction pooling on a tracked
// connection): flagged OKs read whole, replies the proxy sent for itself dropped, and
// for a client without CLIENT_SESSION_TRACK flagged OKs rewritten; whatever way the
// stream is cut into chunks, the client gets the same bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CLIENT_DEPRECATE_EOF,
  CLIENT_PROTOCOL_41,
  CLIENT_SESSION_TRACK,
  SERVER_MORE_RESULTS_EXISTS,
  SERVER_SESSION_STATE_CHANGED,
  SERVER_STATUS_AUTOCOMMIT,
} from '../../protocol/constants.js';
import { framePacket } from '../../protocol/framing.js';
import { writeErrPacket } from '../../protocol/packets/err-packet.js';
import { writeOkPacket } from '../../protocol/packets/ok-packet.js';
import { ReplyTracker } from '../../protocol/reply-tracker.js';
import type { SessionStateWatcher } from '../../protocol/reply-filter.js';
import { withoutSessionState } from '../../protocol/session-state.js';

const CAPS = CLIENT_PROTOCOL_41 | CLIENT_DEPRECATE_EOF | CLIENT_SESSION_TRACK;
const AC = SERVER_STATUS_AUTOCOMMIT;
const hex = (s: string): Buffer => Buffer.from(s, 'hex');
const COLUMN = hex('03646566000000016100000c3f0001000000038100000000');

function flaggedOk(status: number, variable: string, value: string, header = 0x00, info = ''): Buffer {
  const entry = Buffer.concat([Buffer.from([variable.length]), Buffer.from(variable), Buffer.from([value.length]), Buffer.from(value)]);
  const block = Buffer.concat([Buffer.from([0, entry.length]), entry]);
  const p = writeOkPacket(
    { affectedRows: 2, lastInsertId: 0, statusFlags: status | SERVER_SESSION_STATE_CHANGED, warnings: 0, info, sessionState: Buffer.concat([Buffer.from([block.length]), block]) },
    CAPS,
  );
  p[0] = header;
  return p;
}
const plainOk = (status: number, header = 0x00) => {
  const p = writeOkPacket({ affectedRows: 0, lastInsertId: 0, statusFlags: status, warnings: 0, info: '' }, CAPS);
  p[0] = header;
  return p;
};
const strip = (p: Buffer) => withoutSessionState(p, 0, p.length);
const frame = (...payloads: Buffer[]) => Buffer.concat(payloads.map((p, i) => framePacket(p, i + 1)));

// Replies in order: the client's SET, the proxy's own replay, a multi-result reply whose
// result set ends in a flagged 0xfe OK, a plain OK, an ERR.
const client1 = [flaggedOk(AC, 'time_zone', '+05:00', 0x00, 'some info')];
const own = [flaggedOk(AC, 'sql_mode', '')];
const client2 = [
  flaggedOk(AC | SERVER_MORE_RESULTS_EXISTS, 'time_zone', '+01:00'),
  hex('01'),
  COLUMN,
  hex('0131'),
  Buffer.alloc(300, 0x61).fill(0x01, 0, 1), // a 300-byte row
  flaggedOk(AC, 'character_set_results', 'latin1', 0xfe),
];
const client3 = [plainOk(AC)];
const client4 = [writeErrPacket({ code: 1064, sqlState: '42000', message: 'syntax' }, CLIENT_PROTOCOL_41)];
const replies = [client1, own, client2, client3, client4];
const swallowed = [false, true, false, false, false];
const stream = Buffer.concat(replies.map((r) => frame(...r)));

function expected(stripping: boolean): Buffer {
  const keep = replies.filter((_, i) => !swallowed[i]);
  const mapped = keep.map((r) => r.map((p) => (stripping && (p[0] === 0x00 || p[0] === 0xfe) && p.length >= 7 && p.readUInt16LE(3) & SERVER_SESSION_STATE_CHANGED ? strip(p) : p)));
  return Buffer.concat(mapped.map((r) => frame(...r)));
}

function feed(pieces: Buffer[], stripping: boolean): { out: Buffer; states: string[]; ends: number } {
  const states: string[] = [];
  const watcher: SessionStateWatcher = {
    strip: stripping,
    view: null,
    onSessionState(buf, start, end, stateAt, own) {
      states.push(`${own ? 'own' : 'client'}:${buf.subarray(stateAt, end).toString('latin1')}`);
      assert.ok(start < stateAt && stateAt < end);
    },
  };
  let ends = 0;
  const t = new ReplyTracker(CAPS, 0, AC, () => ends++, watcher);
  swallowed.forEach((s) => t.expect(s));
  const out: Buffer[] = [];
  for (const piece of pieces) {
    t.push(piece);
    if (t.output === null) out.push(piece);
    else out.push(...t.output);
  }
  return { out: Buffer.concat(out), states, ends };
}

for (const stripping of [false, true]) {
  test(`the client's bytes whatever the chunks (${stripping ? 'a client that does not track: flagged OKs rewritten' : 'a tracking client'})`, () => {
    const want = expected(stripping);
    const whole = feed([stream], stripping);
    assert.deepEqual(whole.out, want);
    assert.equal(whole.ends, 4, 'the proxy\u2019s own reply is not the client\u2019s');
    assert.equal(whole.states.length, 4);
    assert.ok(whole.states[1]!.startsWith('own:'));
    for (let cut = 1; cut < stream.length; cut++) {
      const split = feed([Buffer.from(stream.subarray(0, cut)), Buffer.from(stream.subarray(cut))], stripping);
      assert.deepEqual(split.out, want, `cut at ${cut}`);
      assert.deepEqual(split.states, whole.states, `cut at ${cut}`);
    }
    const bytewise = feed([...stream].map((b) => Buffer.from([b])), stripping);
    assert.deepEqual(bytewise.out, want);
    assert.deepEqual(bytewise.states, whole.states);
  });
}

test('a tracking client with nothing of the proxy\u2019s pending gets each chunk as it came', () => {
  const t = new ReplyTracker(CAPS, 0, AC, () => {}, { strip: false, view: null, onSessionState() {} });
  t.expect();
  t.expect();
  const chunk = Buffer.concat([frame(...client1), frame(...client3)]);
  t.push(chunk);
  assert.equal(t.output, null);
});

test('a failing reply to the proxy\u2019s own command is an error, not the client\u2019s', () => {
  const t = new ReplyTracker(CAPS, 0, AC, () => {}, { strip: true, view: null, onSessionState() {} });
  t.expect(true);
  assert.throws(() => t.push(frame(...client4)), /proxy sent for itself failed/);
});

test('reset: a tracker left anywhere in a stream (mid-packet, a reply of its own held back) reads the next connection as a new one does', () => {
  const want = expected(true);
  const fresh = feed([stream], true);
  // One tracker for several connections, as the transaction relay keeps it: reset at every cut.
  for (let cut = 1; cut < stream.length; cut += 7) {
    const states: string[] = [];
    let ends = 0;
    const watcher: SessionStateWatcher = {
      strip: true,
      view: null,
      onSessionState(buf, _start, end, stateAt, own) {
        states.push(`${own ? 'own' : 'client'}:${buf.subarray(stateAt, end).toString('latin1')}`);
      },
    };
    const t = new ReplyTracker(CAPS, 0, AC, () => ends++, watcher);
    swallowed.forEach((s) => t.expect(s));
    t.push(Buffer.from(stream.subarray(0, cut)));
    t.reset(CAPS, 0, AC);
    assert.equal(t.pending, 0);
    assert.equal(t.output as unknown, null);
    states.length = 0;
    ends = 0;
    swallowed.forEach((s) => t.expect(s));
    const out: Buffer[] = [];
    for (const piece of [stream.subarray(0, cut), stream.subarray(cut)]) {
      t.push(Buffer.from(piece));
      if (t.output === null) out.push(piece);
      else out.push(...t.output);
    }
    assert.deepEqual(Buffer.concat(out), want, `reset after ${cut} bytes`);
    assert.deepEqual(states, fresh.states, `reset after ${cut} bytes`);
    assert.equal(ends, fresh.ends);
    assert.equal(t.pending, 0);
  }
});
