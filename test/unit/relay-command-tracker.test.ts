import { test } from 'node:test';
import assert from 'node:assert/strict';
import { COM_INIT_DB, COM_PING, COM_QUERY, COM_CHANGE_USER } from '../../protocol/constants.js';
import { framePacket, MAX_PAYLOAD_LENGTH } from '../../protocol/framing.js';
import { writeComInitDb } from '../../protocol/commands/com-init-db.js';
import { writeComQuery } from '../../protocol/commands/com-query.js';
import { writeComPing, writeComQuit } from '../../protocol/commands/simple-commands.js';
import { ClientCommandTracker, SCAN_COMMAND, SCAN_PASS_ALL } from '../../relay/command-tracker.js';

const QUIT = framePacket(writeComQuit(), 0);

/** A session as a client sends it: commands, an auth-switch answer of one byte 0x01, a ping. */
const SESSION = Buffer.concat([
  framePacket(writeComQuery('SELECT 1'), 0),
  framePacket(writeComInitDb('shop'), 0),
  framePacket(Buffer.from([COM_CHANGE_USER, 0x61, 0]), 0),
  // Not a command: it continues a sequence (an auth answer that happens to be 0x01).
  framePacket(Buffer.from([0x01]), 3),
  framePacket(Buffer.alloc(0), 0),
  framePacket(writeComPing(), 0),
]);
const COMMANDS = [COM_QUERY, COM_INIT_DB, COM_CHANGE_USER, COM_PING];

function run(chunks: Buffer[]): { forwarded: Buffer; commands: number[]; quit: boolean } {
  const tracker = new ClientCommandTracker();
  const forwarded: Buffer[] = [];
  const commands: number[] = [];
  let quit = false;
  for (const chunk of chunks) {
    const t = tracker.push(chunk);
    assert.ok(!quit || t.forward.length === 0, 'nothing is forwarded after COM_QUIT');
    forwarded.push(...t.forward);
    commands.push(...t.commands);
    quit ||= t.quit;
  }
  return { forwarded: Buffer.concat(forwarded), commands, quit };
}

function splits(stream: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < stream.length; i += size) out.push(stream.subarray(i, i + size));
  return out;
}

test('forwards everything but COM_QUIT, whole or cut anywhere', () => {
  const stream = Buffer.concat([SESSION, QUIT, framePacket(writeComQuery('after quit'), 0)]);
  for (const size of [stream.length, 1, 2, 3, 4, 5, 7, 11]) {
    const r = run(splits(stream, size));
    assert.ok(r.forwarded.equals(SESSION), `chunks of ${size}`);
    assert.deepEqual(r.commands, COMMANDS, `chunks of ${size}`);
    assert.equal(r.quit, true);
  }
});

test('every two-way cut of the stream gives the same result', () => {
  const stream = Buffer.concat([SESSION, QUIT]);
  for (let cut = 0; cut <= stream.length; cut++) {
    const r = run([stream.subarray(0, cut), stream.subarray(cut)]);
    assert.ok(r.forwarded.equals(SESSION), `cut at ${cut}`);
    assert.deepEqual(r.commands, COMMANDS);
    assert.equal(r.quit, true);
  }
});

test('without COM_QUIT every byte is forwarded; chunks are passed on, not copied', () => {
  const tracker = new ClientCommandTracker();
  const t = tracker.push(SESSION);
  assert.equal(t.forward.length, 1);
  assert.equal(t.forward[0], SESSION);
  assert.equal(t.quit, false);
});

test('a 16 MiB command is one command, whatever its continuation starts with', () => {
  const payload = Buffer.alloc(MAX_PAYLOAD_LENGTH + 1, 0x20);
  payload[0] = COM_QUERY;
  payload[MAX_PAYLOAD_LENGTH] = 0x01; // the continuation fragment is the single byte 0x01
  const big = framePacket(payload, 0);
  const stream = Buffer.concat([big, QUIT]);
  const r = run(splits(stream, 64 * 1024));
  assert.ok(r.forwarded.equals(big));
  assert.deepEqual(r.commands, [COM_QUERY]);
  assert.equal(r.quit, true);
});

test('a COM_QUIT with extra bytes is not a quit: it goes to the server', () => {
  const odd = framePacket(Buffer.from([0x01, 0x00]), 0);
  const r = run([odd]);
  assert.ok(r.forwarded.equals(odd));
  assert.deepEqual(r.commands, [0x01]);
  assert.equal(r.quit, false);
});

// A relay's loop over scan(): watched commands (COM_QUERY starting with K) are held
// whole and replaced; everything else goes on as it came.
function relay(chunks: Buffer[], replace: (payload: Buffer) => Buffer): { out: Buffer; seen: Buffer[]; commands: number[] } {
  const commands: number[] = [];
  const tracker = new ClientCommandTracker(
    {
      onCommand: (c) => commands.push(c),
      watches: (command, first) => command === COM_QUERY && (first === 0x4b || first === 0x6b),
    },
    false,
  );
  const out: Buffer[] = [];
  const seen: Buffer[] = [];
  for (const chunk of chunks) {
    for (let from = 0; ; ) {
      const r = tracker.scan(chunk, from);
      out.push(...(tracker.released ?? []));
      tracker.released = null;
      if (r === SCAN_PASS_ALL) {
        out.push(chunk.subarray(from));
        break;
      }
      out.push(chunk.subarray(from, tracker.passEnd));
      if (r !== SCAN_COMMAND) break;
      const held = tracker.takeCommand();
      seen.push(held.payload);
      out.push(replace(held.payload));
      from = tracker.resumeAt;
    }
  }
  return { out: Buffer.concat(out), seen, commands };
}

test('watched commands are held whole and replaced, wherever the chunks are cut', () => {
  const kill = framePacket(writeComQuery('KILL QUERY 1073741825'), 0);
  const stream = Buffer.concat([framePacket(writeComQuery('SELECT 1'), 0), kill, framePacket(writeComPing(), 0), kill, QUIT]);
  const replaced = framePacket(writeComQuery('KILL QUERY 17'), 0);
  const expected = Buffer.concat([framePacket(writeComQuery('SELECT 1'), 0), replaced, framePacket(writeComPing(), 0), replaced, QUIT]);
  const replace = (p: Buffer) => {
    assert.equal(p.toString('latin1', 1), 'KILL QUERY 1073741825');
    return replaced;
  };
  for (let cut = 0; cut <= stream.length; cut++) {
    const r = relay([stream.subarray(0, cut), stream.subarray(cut)], replace);
    assert.ok(r.out.equals(expected), `cut at ${cut}`);
    assert.equal(r.seen.length, 2);
    assert.deepEqual(r.commands, [COM_QUERY, COM_QUERY, COM_PING, COM_QUERY, 0x01]);
  }
  for (const size of [1, 2, 3, 5, 7]) assert.ok(relay(splits(stream, size), replace).out.equals(expected), `chunks of ${size}`);
});

test('a watched command that spans a 16 MiB continuation arrives whole', () => {
  const sql = `KILL ${' '.repeat(MAX_PAYLOAD_LENGTH)}5`;
  const stream = Buffer.concat([framePacket(writeComQuery(sql), 0), framePacket(writeComPing(), 0)]);
  const r = relay(splits(stream, 1 << 20), () => Buffer.alloc(0));
  assert.equal(r.seen.length, 1);
  assert.equal(r.seen[0]!.length, 1 + sql.length);
  assert.equal(r.seen[0]!.toString('latin1', r.seen[0]!.length - 1), '5');
  assert.ok(r.out.equals(framePacket(writeComPing(), 0)));
});
