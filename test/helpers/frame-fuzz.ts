// Streams framed by hand (not with framePacket, so a framing bug cannot hide on both
// sides) and one driver per reader of the frame scanner: each takes a list of chunks
// and reports what that reader made of them, errors included, in a form two runs can
// be compared by.
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { MAX_PAYLOAD_LENGTH, PacketFramer, type Packet } from '../../protocol/framing.js';
import { ReplyTracker, type ReplyEnd } from '../../protocol/reply-tracker.js';
import { ClientCommandTracker } from '../../relay/command-tracker.js';
import { PacketChannel } from '../../socket/packet-channel.js';

/** A small seeded PRNG (mulberry32), so a failing case reproduces from its seed. */
export function prng(seed: number): (n: number) => number {
  let s = seed >>> 0;
  return (n) => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 2 ** 32) * n);
  };
}

/** A packet to frame: given bytes, or `length` bytes of a filler pattern starting with `first`. */
export interface PacketSpec {
  sequenceId: number;
  payload?: Buffer;
  length?: number;
  first?: number;
}

export interface Framed {
  /** Offsets of the packet's first header and of the byte after its last fragment. */
  start: number;
  end: number;
  /** Sequence id of its last fragment, as the readers report it. */
  sequenceId: number;
  length: number;
  /** Each fragment: where its header is and its payload length. */
  fragments: Array<{ at: number; length: number }>;
}

export interface Stream {
  bytes: Buffer;
  packets: Framed[];
}

const FILLER = Buffer.from(Array.from({ length: 251 }, (_, i) => (i * 97 + 13) & 0xff));

export function frameStream(specs: PacketSpec[]): Stream {
  const lengths = specs.map((s) => s.payload?.length ?? s.length!);
  const total = lengths.reduce((n, len) => n + len + 4 * (Math.floor(len / MAX_PAYLOAD_LENGTH) + 1), 0);
  const bytes = Buffer.allocUnsafe(total);
  const packets: Framed[] = [];
  let pos = 0;
  specs.forEach((spec, k) => {
    const length = lengths[k]!;
    const start = pos;
    const fragments: Framed['fragments'] = [];
    let seq = spec.sequenceId;
    for (let done = 0, last = false; !last; seq = (seq + 1) & 0xff) {
      const n = Math.min(MAX_PAYLOAD_LENGTH, length - done);
      last = n < MAX_PAYLOAD_LENGTH;
      bytes[pos] = n & 0xff;
      bytes[pos + 1] = (n >> 8) & 0xff;
      bytes[pos + 2] = n >> 16;
      bytes[pos + 3] = seq;
      if (spec.payload) spec.payload.copy(bytes, pos + 4, done, done + n);
      else if (n > 0) bytes.fill(FILLER, pos + 4, pos + 4 + n);
      fragments.push({ at: pos, length: n });
      pos += 4 + n;
      done += n;
    }
    if (!spec.payload && length > 0) bytes[start + 4] = spec.first ?? 0x61;
    packets.push({ start, end: pos, sequenceId: (seq - 1) & 0xff, length, fragments });
  });
  return { bytes, packets };
}

/** True when `payload` is exactly the packet's fragments joined. */
export function isPayloadOf(payload: Buffer, p: Framed, bytes: Buffer): boolean {
  if (payload.length !== p.length) return false;
  let off = 0;
  for (const f of p.fragments) {
    if (!payload.subarray(off, off + f.length).equals(bytes.subarray(f.at + 4, f.at + 4 + f.length))) return false;
    off += f.length;
  }
  return true;
}

/** Cuts a region into chunks: byte-sized near every fragment header, large in between. */
export function randomChunks(bytes: Buffer, packets: Framed[], rand: (n: number) => number, from = 0, to = bytes.length): Buffer[] {
  const cuts = new Set<number>([from, to]);
  for (const p of packets) {
    for (const f of p.fragments) for (let i = 0; i < 3; i++) cuts.add(f.at + rand(13) - 6);
  }
  for (let i = 0; i < 40; i++) cuts.add(from + rand(to - from));
  const sorted = [...cuts].filter((c) => c >= from && c <= to).sort((a, b) => a - b);
  const out: Buffer[] = [];
  for (let i = 1; i < sorted.length; i++) out.push(bytes.subarray(sorted[i - 1], sorted[i]));
  return out;
}

/** Small chunks of 1..max bytes, for streams of small packets. */
export function smallChunks(bytes: Buffer, rand: (n: number) => number, max: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; ) {
    const n = 1 + rand(max);
    out.push(bytes.subarray(i, i + n));
    i += n;
  }
  return out;
}

/** What a reader did: its output, the error a push threw, and the error ending the stream there gives. */
export interface Outcome<T> {
  out: T;
  error: unknown;
  endError: unknown;
}

function ending(fn: () => void): unknown {
  try {
    fn();
    return null;
  } catch (err) {
    return err;
  }
}

/** `rest()` hands back the bytes not yet returned (joined on demand: they may be 32 MiB). */
export function runFramer(chunks: Buffer[], max = 1 << 30): Outcome<{ packets: Packet[]; rest: () => Buffer; buffered: number }> {
  const framer = new PacketFramer(max);
  const packets: Packet[] = [];
  const error = ending(() => {
    for (const c of chunks) packets.push(...framer.push(c));
  });
  const endError = ending(() => framer.end());
  return { out: { packets, rest: () => framer.takeRemaining(), buffered: framer.buffered }, error, endError };
}

/** Just enough of a socket for PacketChannel, so chunk boundaries are exactly the test's. */
export class ChunkSocket extends EventEmitter {
  pause(): this {
    return this;
  }
  write(): boolean {
    return true;
  }
}

export function runChannel(chunks: Buffer[], max = 1 << 30): Outcome<{ packets: Packet[]; rest: () => Buffer }> {
  const socket = new ChunkSocket();
  const channel = new PacketChannel(socket as unknown as Socket, 'backend', max);
  const packets: Packet[] = [];
  let failure: unknown = null;
  channel.onFailure((err) => (failure = err));
  channel.listen((p) => packets.push(p));
  for (const c of chunks) if (!failure) socket.emit('data', c);
  const error = failure;
  socket.emit('end');
  // A close is always a ChannelClosedError; a packet it cut short is its cause.
  const endError = error ? null : ((failure as { cause?: unknown } | null)?.cause ?? null);
  return { out: { packets, rest: () => channel.detach() }, error, endError };
}

export function runCommands(chunks: Buffer[]): Outcome<{ forwarded: Buffer[]; commands: number[]; quit: boolean }> {
  const tracker = new ClientCommandTracker();
  const forwarded: Buffer[] = [];
  const commands: number[] = [];
  let quit = false;
  const error = ending(() => {
    for (const c of chunks) {
      const t = tracker.push(c);
      forwarded.push(...t.forward);
      commands.push(...t.commands);
      quit ||= t.quit;
    }
  });
  const endError = quit || error ? null : ending(() => tracker.end());
  return { out: { forwarded, commands, quit }, error, endError };
}

export function runReplies(chunks: Buffer[], replies: number, capabilities: number): Outcome<{ ends: ReplyEnd[]; pending: number }> {
  const ends: ReplyEnd[] = [];
  const tracker = new ReplyTracker(capabilities, 0, 2, (e) => ends.push(e));
  for (let i = 0; i < replies; i++) tracker.expect();
  const error = ending(() => {
    for (const c of chunks) tracker.push(c);
  });
  const endError = error ? null : ending(() => tracker.end());
  return { out: { ends, pending: tracker.pending }, error, endError };
}

/** The forwarded pieces, compared with `expected` without joining them. */
export function forwardedEquals(pieces: Buffer[], expected: Buffer): boolean {
  let off = 0;
  for (const p of pieces) {
    if (!p.equals(expected.subarray(off, off + p.length))) return false;
    off += p.length;
  }
  return off === expected.length;
}
