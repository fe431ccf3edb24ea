// How frame-readers.ts drives each reader over a stream, given the reader classes of
// one build (this one, or another loaded with --against): only their public APIs are
// used, so the same code measures the code before and after a change.
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { SERVER_STATUS_AUTOCOMMIT } from '../../protocol/index.js';
import { CAPABILITIES, type Stream } from './frame-streams.js';

export interface ReaderModules {
  PacketFramer: new (maxPacketSize: number) => { push(chunk: Buffer): unknown[] };
  ClientCommandTracker: new () => { push(chunk: Buffer): { forward: Buffer[] } };
  ReplyTracker: new (
    capabilities: number,
    mariadbCapabilities: number,
    initialStatus: number,
    onReply: () => void,
  ) => { expect(): void; push(chunk: Buffer): void };
  PacketChannel: new (socket: Socket, side: 'backend', maxPacketSize: number) => {
    listen(fn: (() => void) | null): void;
    detach(): Buffer;
  };
  /** Absent in builds from before the pipe relay read client commands (issue 14). */
  CommandGate?: new (
    side: { toCompute(b: Buffer): boolean; pauseClient(): void; resumeClient(): void; quit(): void; broken(): void },
    opts: { dropQuit: boolean; pooled: boolean; sessionId: number; hook?: { kill(): { kind: 'pass' } } },
  ) => { push(chunk: Buffer): void };
}

export interface Reader {
  name: string;
  accepts(s: Stream): boolean;
  /** One pass over the stream; returns what it saw. */
  run(s: Stream): number;
  /** One pass, failing unless it saw what the stream holds. */
  check(s: Stream): void;
}

/** Just enough of a socket for PacketChannel: 'data' events, pause, write. */
class FakeSocket extends EventEmitter {
  pause(): this {
    return this;
  }
  write(): boolean {
    return true;
  }
}

function reader(name: string, run: (s: Stream) => number, expected: (s: Stream) => number, accepts = (_: Stream) => true): Reader {
  return {
    name,
    accepts,
    run,
    check(s) {
      const got = run(s);
      if (got !== expected(s)) throw new Error(`${name} on ${s.name}: saw ${got}, expected ${expected(s)}`);
    },
  };
}

export function makeReaders(m: ReaderModules): Reader[] {
  return [
    reader(
      'PacketFramer',
      (s) => {
        const framer = new m.PacketFramer(1 << 30);
        let n = 0;
        for (const chunk of s.chunks) n += framer.push(chunk).length;
        return n;
      },
      (s) => s.packets,
    ),
    reader(
      'ClientCommandTracker',
      (s) => {
        const tracker = new m.ClientCommandTracker();
        let bytes = 0;
        for (const chunk of s.chunks) for (const piece of tracker.push(chunk).forward) bytes += piece.length;
        return bytes;
      },
      (s) => s.chunks.reduce((n, c) => n + c.length, 0),
    ),
    reader(
      // The pipe relay's client side: a build without CommandGate wrote each chunk straight on.
      'pipe relay client side',
      (s) => {
        let bytes = 0;
        const side = {
          toCompute: (b: Buffer) => ((bytes += b.length), true),
          pauseClient() {},
          resumeClient() {},
          quit() {},
          broken() {
            throw new Error('client stream out of step');
          },
        };
        if (!m.CommandGate) {
          for (const chunk of s.chunks) side.toCompute(chunk);
          return bytes;
        }
        const gate = new m.CommandGate(side, { dropQuit: false, pooled: false, sessionId: 2 ** 30, hook: { kill: () => ({ kind: 'pass' }) } });
        for (const chunk of s.chunks) gate.push(chunk);
        return bytes;
      },
      (s) => s.chunks.reduce((n, c) => n + c.length, 0),
      (s) => s.from === 'client',
    ),
    reader(
      // The session relay's client side: a command tracker before, a CommandGate that also
      // watches for KILL and a bare SELECT CONNECTION_ID() after.
      'session relay client side',
      (s) => {
        let bytes = 0;
        if (!m.CommandGate) {
          const tracker = new m.ClientCommandTracker();
          for (const chunk of s.chunks) for (const piece of tracker.push(chunk).forward) bytes += piece.length;
          return bytes;
        }
        const side = {
          toCompute: (b: Buffer) => ((bytes += b.length), true),
          pauseClient() {},
          resumeClient() {},
          quit() {},
          broken() {
            throw new Error('client stream out of step');
          },
        };
        const gate = new m.CommandGate(side, { dropQuit: true, pooled: true, sessionId: 2 ** 30, hook: { kill: () => ({ kind: 'pass' }) } });
        for (const chunk of s.chunks) gate.push(chunk);
        return bytes;
      },
      (s) => s.chunks.reduce((n, c) => n + c.length, 0),
      (s) => s.from === 'client',
    ),
    reader(
      'ReplyTracker',
      (s) => {
        let n = 0;
        const tracker = new m.ReplyTracker(CAPABILITIES, 0, SERVER_STATUS_AUTOCOMMIT, () => n++);
        if (s.perChunk === 0) for (let i = 0; i < s.replies; i++) tracker.expect();
        for (const chunk of s.chunks) {
          if (s.perChunk > 0) tracker.expect();
          tracker.push(chunk);
        }
        return n;
      },
      (s) => s.replies,
      (s) => s.from === 'server',
    ),
    reader(
      'PacketChannel',
      (s) => {
        const socket = new FakeSocket();
        const channel = new m.PacketChannel(socket as unknown as Socket, 'backend', 1 << 25);
        let n = 0;
        channel.listen(() => n++);
        for (const chunk of s.chunks) socket.emit('data', chunk);
        channel.detach();
        return n;
      },
      (s) => s.packets,
    ),
  ];
}
