// Every reader on the frame scanner (PacketFramer, PacketChannel, ClientCommandTracker,
// ReplyTracker) against streams with packets at and around the 16 MiB fragment
// boundaries, cut into chunks at random (seeded: a failure names its seed), compared
// with what the same reader makes of the unsplit stream and with what the stream holds.
// Truncated streams and continuations out of sequence must fail with ProtocolError.
// The two large streams are built once and shared by every test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CLIENT_PROTOCOL_41, COM_PING, COM_QUERY, COM_QUIT } from '../../protocol/constants.js';
import { MAX_PAYLOAD_LENGTH as M, PacketFramer } from '../../protocol/framing.js';
import { ProtocolError } from '../../protocol/protocol-error.js';
import {
  forwardedEquals,
  frameStream,
  isPayloadOf,
  prng,
  randomChunks,
  runChannel,
  runCommands,
  runFramer,
  runReplies,
  smallChunks,
  type Framed,
  type Outcome,
  type PacketSpec,
  type Stream,
} from '../helpers/frame-fuzz.js';
import type { Packet } from '../../protocol/framing.js';

const hex = (s: string): Buffer => Buffer.from(s, 'hex');
const COLUMN = hex('03646566000000016100000c3f0001000000038100000000'); // SELECT 1 AS a, MariaDB 10.11
const EOF = hex('fe00000200');
const LAST_EOF = hex('fe00000300'); // status: in transaction, autocommit
const REPLY_END = { statusFlags: 3, stateChanged: false, failed: false };

/** Sequence ids for a reply: from 1, one per fragment. */
function reply(specs: Array<Omit<PacketSpec, 'sequenceId'>>): PacketSpec[] {
  let seq = 1;
  return specs.map((s) => {
    const spec = { ...s, sequenceId: seq };
    seq = (seq + Math.floor((s.payload?.length ?? s.length!) / M) + 1) & 0xff;
    return spec;
  });
}

// Client -> server: commands at and around the boundaries, a packet that is no command
// (sequence 255) whose 1-byte continuation (sequence 0) reads like COM_QUIT, then COM_QUIT.
const client = frameStream([
  { sequenceId: 0, payload: Buffer.from('\x03SELECT 1') },
  { sequenceId: 0, length: M - 1, first: COM_QUERY },
  { sequenceId: 0, payload: Buffer.from([COM_PING]) },
  { sequenceId: 0, length: M, first: COM_QUERY }, // a full fragment and an empty one
  { sequenceId: 255, length: M + 1, first: 0x01 },
  { sequenceId: 0, payload: Buffer.alloc(0) },
  { sequenceId: 0, length: 2 * M, first: COM_QUERY }, // two full fragments and an empty one
  { sequenceId: 0, payload: Buffer.from([COM_QUIT]) },
]);
client.bytes[client.packets[4]!.fragments[1]!.at + 4] = COM_QUIT;
const CLIENT_COMMANDS = [COM_QUERY, COM_QUERY, COM_PING, COM_QUERY, COM_QUERY];

// Server -> client: one result set whose rows sit at and around the boundaries.
const server = frameStream(
  reply([
    { payload: hex('01') },
    { payload: COLUMN },
    { payload: EOF },
    { payload: hex('0131') },
    { length: M - 1 },
    { length: M },
    { length: M + 1 },
    { length: 2 * M },
    { payload: LAST_EOF },
  ]),
);

const smallClient = frameStream([
  { sequenceId: 0, payload: Buffer.from('\x03SELECT 1') },
  { sequenceId: 0, payload: Buffer.from('\x02shop') },
  { sequenceId: 3, payload: hex('01') },
  { sequenceId: 0, payload: Buffer.alloc(0) },
  { sequenceId: 0, payload: Buffer.from([COM_PING]) },
  { sequenceId: 0, payload: Buffer.from([COM_QUIT]) },
]);
const smallServer = frameStream([
  ...reply([{ payload: hex('0001000300000000') }]), // OK, in transaction
  ...reply([{ payload: Buffer.concat([hex('ff2804'), Buffer.from('#42000oops')]) }]),
  ...reply([{ payload: hex('01') }, { payload: COLUMN }, { payload: EOF }, { payload: hex('0131') }, { payload: LAST_EOF }]),
]);
const SMALL_ENDS = [REPLY_END, { ...REPLY_END, failed: true }, REPLY_END];
const SMALL_REPLY_ENDS = [0, 1, 6].map((i) => smallServer.packets[i]!.end);

const isProtocolError = (e: unknown): boolean => e instanceof ProtocolError;

/** The packets of `s` that lie wholly in [from, cut). */
function within(s: Stream, from: number, cut: number): Framed[] {
  return s.packets.filter((p) => p.start >= from && p.end <= cut);
}

function atBoundary(s: Stream, cut: number): boolean {
  return cut === 0 || s.packets.some((p) => p.end === cut);
}

function assertPackets(got: Packet[], want: Framed[], s: Stream, label: string): void {
  assert.equal(got.length, want.length, `${label}: packet count`);
  got.forEach((p, i) => {
    assert.equal(p.sequenceId, want[i]!.sequenceId, `${label}: packet ${i} sequence id`);
    assert.ok(isPayloadOf(p.payload, want[i]!, s.bytes), `${label}: packet ${i} payload`);
  });
}

/**
 * What the command tracker must have forwarded and seen after the client's bytes
 * [from, cut): everything but a header cut short, a command header whose command byte
 * has not come, and COM_QUIT.
 */
function expectedCommands(s: Stream, from: number, cut: number): { forwardTo: number; commands: number[]; quit: boolean } {
  const commands: number[] = [];
  const held = (at: number, quit = false) => ({ forwardTo: at, commands, quit });
  for (const p of s.packets) {
    if (p.start < from || p.start >= cut) continue;
    if (cut - p.start < 4) return held(p.start);
    if (s.bytes[p.start + 3] === 0 && p.length > 0) {
      if (cut === p.start + 4) return held(p.start);
      const command = s.bytes[p.start + 4]!;
      if (command === COM_QUIT && p.length === 1) return held(p.start, true);
      commands.push(command);
    }
    const partial = p.fragments.find((f) => f.at < cut && cut < f.at + 4);
    if (partial) return held(partial.at);
  }
  return { forwardTo: cut, commands, quit: false };
}

function assertProtocolError(err: unknown, message: string | RegExp, label: string): void {
  assert.ok(err instanceof ProtocolError, `${label}: ${String(err)}`);
  if (typeof message === 'string') assert.equal(err.message, message, label);
  else assert.match(err.message, message, label);
}

/**
 * Checks every reader fed `chunks` = s.bytes[from, cut), against what that span holds.
 * Unread bytes are compared byte for byte when `verbatim` (joining 32 MiB at every cut
 * would make this the slowest unit test); the framer's count of them always.
 */
function checkAll(s: Stream, from: number, cut: number, chunks: Buffer[], label: string, verbatim: boolean, replies?: Outcome<unknown>): void {
  const mid = !atBoundary(s, cut);
  const whole = within(s, from, cut);
  const restFrom = whole.length > 0 ? whole[whole.length - 1]!.end : from;
  for (const [name, run] of [['framer', runFramer], ['channel', runChannel]] as const) {
    const r = run(chunks);
    assert.equal(r.error, null, `${label} ${name}`);
    assertPackets(r.out.packets, whole, s, `${label} ${name}`);
    if (verbatim) assert.ok(r.out.rest().equals(s.bytes.subarray(restFrom, cut)), `${label} ${name}: unread bytes handed back verbatim`);
    if ('buffered' in r.out) assert.equal(r.out.buffered, cut - restFrom, `${label} ${name}: bytes buffered`);
    assert.equal(isProtocolError(r.endError), mid, `${label} ${name}: ending here ${mid ? 'fails' : 'is clean'}`);
  }
  const c = runCommands(chunks);
  const want = expectedCommands(s, from, cut);
  assert.equal(c.error, null, `${label} commands`);
  assert.deepEqual(c.out.commands, want.commands, `${label} commands`);
  assert.equal(c.out.quit, want.quit, `${label} quit`);
  assert.ok(forwardedEquals(c.out.forwarded, s.bytes.subarray(from, want.forwardTo)), `${label}: forwarded bytes`);
  if (!want.quit) assert.equal(isProtocolError(c.endError), mid, `${label} commands: ending here`);
  if (replies) {
    assert.equal(replies.error, null, `${label} replies`);
    assert.equal(isProtocolError(replies.endError), cut < s.bytes.length, `${label} replies: ending here`);
  }
}

test('every reader reads the large streams the same, unsplit or cut at random, and as framed', () => {
  for (const [name, s] of [['client', client], ['server', server]] as const) {
    const unsplit = [s.bytes];
    const forwarded = s === client ? s.bytes.subarray(0, s.packets.at(-1)!.start) : s.bytes;
    const commands = runCommands(unsplit);
    assertPackets(runFramer(unsplit).out.packets, s.packets, s, `${name} framer`);
    assertPackets(runChannel(unsplit).out.packets, s.packets, s, `${name} channel`);
    assert.deepEqual(commands.out.commands, s === client ? CLIENT_COMMANDS : [], `${name} commands`);
    assert.equal(commands.out.quit, s === client);
    assert.ok(forwardedEquals(commands.out.forwarded, forwarded), `${name} forwarded bytes`);
    if (s === server) assert.deepEqual(runReplies(unsplit, 1, CLIENT_PROTOCOL_41).out, { ends: [REPLY_END], pending: 0 });
    for (const seed of [1, 2]) {
      const chunks = randomChunks(s.bytes, s.packets, prng(seed));
      const label = `${name} seed ${seed} (${chunks.length} chunks)`;
      assertPackets(runFramer(chunks).out.packets, s.packets, s, `${label} framer`);
      assertPackets(runChannel(chunks).out.packets, s.packets, s, `${label} channel`);
      const c = runCommands(chunks);
      assert.deepEqual(c.out.commands, commands.out.commands, label);
      assert.equal(c.out.quit, commands.out.quit, label);
      assert.ok(forwardedEquals(c.out.forwarded, forwarded), `${label}: forwarded bytes`);
      if (s === server) assert.deepEqual(runReplies(chunks, 1, CLIENT_PROTOCOL_41).out, { ends: [REPLY_END], pending: 0 }, label);
    }
  }
});

test('every prefix of small streams, cut at random, gives the whole packets in it and fails cleanly if cut mid-packet', () => {
  const rand = prng(7);
  for (const [name, s] of [['client', smallClient], ['server', smallServer]] as const) {
    for (let cut = 0; cut <= s.bytes.length; cut++) {
      const chunks = smallChunks(s.bytes.subarray(0, cut), rand, 6);
      const replies = s === smallServer ? runReplies(chunks, 3, CLIENT_PROTOCOL_41) : undefined;
      checkAll(s, 0, cut, chunks, `${name} prefix ${cut}`, true, replies);
      if (replies) assert.deepEqual(replies.out.ends, SMALL_ENDS.slice(0, SMALL_REPLY_ENDS.filter((end) => end <= cut).length));
    }
  }
});

test('streams cut short around every 16 MiB fragment boundary fail cleanly, in every reader', () => {
  const rand = prng(11);
  for (const [name, s] of [['client', client], ['server', server]] as const) {
    for (const p of s.packets.filter((q) => q.length >= M - 1)) {
      const cuts = new Set<number>();
      // Inside a header, a header without its payload, the first byte of the payload, one byte short.
      for (const f of p.fragments) for (const d of [0, 2, 4, 5, 4 + f.length - 1]) cuts.add(f.at + d);
      const verbatimAt = (p.fragments[1]?.at ?? p.start) + 2;
      for (const cut of [...cuts].filter((c) => c > p.start && c < p.end)) {
        // Framing starts afresh at every packet, so a stream may begin at this one.
        const chunks = randomChunks(s.bytes, [p], rand, p.start, cut);
        const replies = s === server ? runReplies(randomChunks(s.bytes, [p], rand, 0, cut), 1, CLIENT_PROTOCOL_41) : undefined;
        const label = `${name} packet at ${p.start} cut at +${cut - p.start}`;
        checkAll(s, p.start, cut, chunks, label, cut - p.start < 1 << 16 || cut === verbatimAt, replies);
      }
    }
  }
});

test('a continuation out of sequence is a ProtocolError in every reader', () => {
  for (const [name, s] of [['client', client], ['server', server]] as const) {
    for (const p of s.packets.filter((q) => q.fragments.length > 1)) {
      for (const f of p.fragments.slice(1)) {
        const at = f.at + 3;
        const good = s.bytes[at]!;
        s.bytes[at] = (good + 1) & 0xff;
        try {
          const label = `${name}: packet at ${p.start}, fragment at +${f.at - p.start}`;
          const span = [s.bytes.subarray(p.start, p.end)];
          const message = `continuation packet has sequence id ${(good + 1) & 0xff}, expected ${good}`;
          assertProtocolError(runFramer(span).error, message, `${label} framer`);
          assertProtocolError(runChannel(span).error, message, `${label} channel`);
          assertProtocolError(runCommands(span).error, message, `${label} commands`);
          if (s === server) assertProtocolError(runReplies([s.bytes.subarray(0, p.end)], 1, CLIENT_PROTOCOL_41).error, message, `${label} replies`);
        } finally {
          s.bytes[at] = good;
        }
      }
    }
  }
});

test('the packet size limit is checked at each fragment header, before the body arrives', () => {
  const over = client.packets[4]!; // 0xffffff + 1 bytes
  const secondHeaderEnd = over.fragments[1]!.at + 4;
  const upToHeader = client.bytes.subarray(over.start, secondHeaderEnd);
  assert.throws(() => new PacketFramer(M).push(upToHeader), { message: `packet of ${M + 1} bytes exceeds max_packet_size ${M}` });
  const exact = client.packets[3]!; // exactly 0xffffff, with its empty fragment
  assert.equal(runFramer([client.bytes.subarray(exact.start, exact.end)], M).out.packets.length, 1);
  // The packet channel now takes continuations, bounded by its limit.
  assert.equal(runChannel([client.bytes.subarray(over.start, over.end)], M + 1).out.packets.length, 1);
  const twice = client.packets[6]!;
  const refused = runChannel([client.bytes.subarray(twice.start, twice.fragments[1]!.at + 4)], M + 1);
  assertProtocolError(refused.error, `packet of ${2 * M} bytes exceeds max_packet_size ${M + 1}`, 'channel');
});

test('the packet channel stops right after a packet: bytes behind it, a TLS ClientHello, stay unread', () => {
  const sslRequest = frameStream([{ sequenceId: 1, payload: Buffer.alloc(32, 0x0a) }]).bytes;
  const continued = client.bytes.subarray(client.packets[4]!.start, client.packets[4]!.end);
  const clientHello = hex('160301020001000200ffff');
  for (const first of [sslRequest, continued]) {
    const chunk = Buffer.concat([first, clientHello]);
    const channel = runChannel([chunk]);
    assert.equal(channel.out.packets.length, 1);
    assert.ok(channel.out.rest().equals(clientHello));
    const framer = new PacketFramer(1 << 30);
    assert.ok(framer.pushOne(chunk));
    assert.equal(framer.consumed, first.length);
    assert.equal(framer.buffered, 0);
  }
});
