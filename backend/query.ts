// The proxy's own commands on a backend connection nobody else is reading (resets,
// pings, checks, tests): pipelined in one write, each reply read whole with sequence
// ids checked, so a connection whose stream is out of step is caught, not trusted.
import type { Socket } from 'node:net';
import { TextResultReader, framePacket, moreResults, writeComQuery, type CommandReply } from '../protocol/index.js';
import { ChannelTimeoutError, PacketChannel } from '../socket/packet-channel.js';
import { divert, undivert } from './backend-socket.js';

export interface CommandTarget {
  socket: Socket;
  /** The connection's negotiated capabilities: they decide how replies look. */
  capabilities: number;
  mariadbCapabilities: number;
  /** Its session trackers are on (transaction pooling): the pool turns them on again after a reset. */
  tracked?: boolean;
}

const MAX_REPLY_PACKET = 16 * 1024 * 1024;

/** Commands framed and joined once, for a batch the proxy sends again and again (a reset). */
export interface FramedCommands {
  bytes: Buffer;
  count: number;
}

export function frameCommands(commands: Buffer[]): FramedCommands {
  return { bytes: commands.length === 1 ? framePacket(commands[0]!, 0) : Buffer.concat(commands.map((c) => framePacket(c, 0))), count: commands.length };
}

export interface RunOptions {
  /** The commands were sent already (sendExpecting), and these bytes of the replies read. */
  sent?: { arrived: Buffer };
  /** Gets the replies' packets as they came, framed: what sendExpecting compares with next time. */
  replyBytes?: Buffer[];
}

/**
 * One reply per command, in order. Throws on timeout, close, a reply out of step, a
 * multi-result reply, or bytes beyond the last reply; the caller then destroys the
 * connection. Leaves the socket paused, as borrowers find it.
 */
export async function runCommands(
  target: CommandTarget,
  commands: Buffer[] | FramedCommands,
  timeoutMs: number,
  opts?: RunOptions,
): Promise<CommandReply[]> {
  const { socket } = target;
  const { bytes, count } = Array.isArray(commands) ? frameCommands(commands) : commands;
  if (socket.destroyed) throw new Error('backend connection is closed');
  const channel = new PacketChannel(socket, 'backend', MAX_REPLY_PACKET, -1, opts?.sent?.arrived);
  const keep = opts?.replyBytes;
  const deadline = Date.now() + timeoutMs;
  const replies: CommandReply[] = [];
  try {
    socket.resume();
    if (!opts?.sent) socket.write(bytes);
    let reader = new TextResultReader(target.capabilities, target.mariadbCapabilities);
    for (let expected = 1; replies.length < count; ) {
      // Packets already here are read at once: a wait (and its timer) only when none is.
      const packet = channel.tryRead() ?? (await channel.read(Math.max(1, deadline - Date.now()), 'command reply'));
      if (packet.sequenceId !== expected) {
        throw new Error(`reply packet has sequence id ${packet.sequenceId}, expected ${expected}: stream out of step`);
      }
      keep?.push(framePacket(packet.payload, packet.sequenceId));
      const reply = reader.push(packet.payload);
      if (!reply) {
        expected = (expected + 1) & 0xff;
        continue;
      }
      if (moreResults(reply)) throw new Error('multi-result replies are not supported here');
      if (replies.push(reply) < count) reader = new TextResultReader(target.capabilities, target.mariadbCapabilities);
      expected = 1;
    }
  } finally {
    const leftover = channel.detach();
    socket.pause();
    if (leftover.length > 0 && replies.length === count) {
      throw new Error(`backend sent ${leftover.length} bytes beyond the replies`);
    }
  }
  return replies;
}

/** sendExpecting's answer when the replies were, byte for byte, the ones expected. */
export const SAME_REPLIES = Symbol('same replies');

/**
 * Send `bytes` and read the replies as raw bytes, compared as they come with `expected`
 * (the replies a check passed with before): SAME_REPLIES when they are exactly those,
 * with nothing after them. At the first byte that differs, the bytes read so far, for
 * runCommands (with `sent`) to read on and judge; nothing is lost. Throws on timeout
 * and close. Leaves the socket paused. No packet is cut and no reply parsed: for a check
 * that runs on every return of a pooled connection and nearly always reads the same.
 */
export function sendExpecting(target: CommandTarget, bytes: Buffer, expected: Buffer, timeoutMs: number): Promise<Buffer | typeof SAME_REPLIES> {
  const { socket } = target;
  if (socket.destroyed) return Promise.reject(new Error('backend connection is closed'));
  return new Promise((resolve, reject) => {
    let got = 0;
    let chunks: Buffer[] | null = null;
    let done = false;
    const stop = () => {
      done = true;
      if (diverted) undivert(socket);
      // Paused inside the 'data' event: a flowing stream would emit what it buffered next to nobody.
      // The socket still reads (backend-socket.ts), into its buffer: an idle watch sees what comes next.
      socket.pause();
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onGone);
      socket.off('close', onGone);
      socket.off('error', onError);
    };
    const onData = (chunk: Buffer): boolean => {
      const end = got + chunk.length;
      if (end <= expected.length && expected.compare(chunk, 0, chunk.length, got, end) === 0) {
        got = end;
        if (got < expected.length) {
          (chunks ??= []).push(chunk);
          return true;
        }
        stop();
        resolve(SAME_REPLIES);
        return true;
      }
      stop();
      resolve(chunks === null ? chunk : Buffer.concat([...chunks, chunk]));
      return true;
    };
    const onGone = () => {
      if (done) return;
      stop();
      reject(new Error('backend closed the connection during a check'));
    };
    const onError = (err: Error) => {
      if (done) return;
      stop();
      reject(err);
    };
    const timer = setTimeout(() => {
      stop();
      reject(new ChannelTimeoutError('backend', 'command reply', timeoutMs));
    }, timeoutMs);
    // Read straight off the shared buffer where the socket allows (backend-socket.ts): no stream events a read.
    // Not with bytes already buffered (a quitting client's late replies): divert() would hand them over before it returns.
    const diverted = socket.readableLength === 0 && divert(socket, { onBackendData: onData });
    if (!diverted) socket.on('data', onData);
    socket.on('end', onGone);
    socket.on('close', onGone);
    socket.on('error', onError);
    socket.resume();
    socket.write(bytes);
  });
}

/** A single text-protocol statement. */
export async function runQuery(target: CommandTarget, sql: string, timeoutMs = 5_000): Promise<CommandReply> {
  const [reply] = await runCommands(target, [writeComQuery(sql)], timeoutMs);
  return reply!;
}
