// The byte streams frame-readers.ts pushes through each reader: realistic shapes of
// what the proxy's relays see, pre-cut into the chunks a socket would hand over.
// Everything is built once and reused by every round, so the rounds allocate only
// what the readers themselves allocate.
import {
  CLIENT_PROTOCOL_41,
  SERVER_STATUS_AUTOCOMMIT,
  framePacket,
  writeComQuery,
  writeEofPacket,
  writeOkPacket,
} from '../../protocol/index.js';

export interface Stream {
  name: string;
  /** Who sends it: replies go through the reply tracker, client streams do not. */
  from: 'server' | 'client';
  chunks: Buffer[];
  /** Logical packets in the stream (continuations joined). */
  packets: number;
  /** Replies in the stream (server streams): the tracker expects this many. */
  replies: number;
  /** Replies per chunk when each chunk is one reply, else 0 (all expected up front). */
  perChunk: number;
}

export const CAPABILITIES = CLIENT_PROTOCOL_41;

// A column definition captured from MariaDB 10.11 (SELECT 1 AS a).
const COLUMN = Buffer.from('03646566000000016100000c3f0001000000038100000000', 'hex');
const EOF = writeEofPacket({ warnings: 0, statusFlags: SERVER_STATUS_AUTOCOMMIT });
const OK = writeOkPacket(
  { affectedRows: 1, lastInsertId: 0, statusFlags: SERVER_STATUS_AUTOCOMMIT, warnings: 0, info: '' },
  CAPABILITIES,
);

function lenencString(s: Buffer): Buffer {
  if (s.length < 251) return Buffer.concat([Buffer.from([s.length]), s]);
  const prefix = Buffer.alloc(4);
  prefix[0] = 0xfd;
  prefix.writeUIntLE(s.length, 1, 3);
  return Buffer.concat([prefix, s]);
}

/** A reply framed with sequence ids from 1, as the server answers a command. */
function reply(payloads: Buffer[]): Buffer {
  return Buffer.concat(payloads.map((p, i) => framePacket(p, (i + 1) & 0xff)));
}

function cut(bytes: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size));
  return out;
}

/** A sysbench-shaped row: id, k, c (120 chars), pad (60 chars). */
function sysbenchRow(i: number): Buffer {
  const text = (n: number) => Buffer.from(String(i).padStart(11, '0').repeat(12).slice(0, n));
  return Buffer.concat([
    lenencString(Buffer.from(String(i))),
    lenencString(Buffer.from(String(i * 7919))),
    lenencString(text(120)),
    lenencString(text(60)),
  ]);
}

export function buildStreams(): Stream[] {
  const streams: Stream[] = [];

  // Autocommit writes: one OK per statement, each arriving in its own read.
  const okCount = 20_000;
  const ok = reply([OK]);
  streams.push({ name: 'OK replies, one per read', from: 'server', chunks: Array(okCount).fill(ok), packets: okCount, replies: okCount, perChunk: 1 });

  // Point selects: column count, column, EOF, one row, EOF; one reply per read.
  const selects = 5_000;
  const point = reply([Buffer.from([1]), COLUMN, EOF, lenencString(Buffer.from('x'.repeat(120))), EOF]);
  streams.push({ name: 'point selects, one per read', from: 'server', chunks: Array(selects).fill(point), packets: selects * 5, replies: selects, perChunk: 1 });

  // A 20k-row result in 64 KiB reads (headers split across reads as they come).
  const rows = 20_000;
  const big: Buffer[] = [Buffer.from([4]), COLUMN, COLUMN, COLUMN, COLUMN, EOF];
  for (let i = 0; i < rows; i++) big.push(sysbenchRow(i));
  big.push(EOF);
  streams.push({ name: '20k-row result, 64 KiB reads', from: 'server', chunks: cut(reply(big), 65_536), packets: big.length, replies: 1, perChunk: 0 });

  // 1 MiB rows in 64 KiB reads.
  const mibRows = 24;
  const wide: Buffer[] = [Buffer.from([1]), COLUMN, EOF];
  for (let i = 0; i < mibRows; i++) wide.push(lenencString(Buffer.alloc(1024 * 1024 - 4, 0x61 + (i % 26))));
  wide.push(EOF);
  streams.push({ name: '1 MiB rows, 64 KiB reads', from: 'server', chunks: cut(reply(wide), 65_536), packets: wide.length, replies: 1, perChunk: 0 });

  // The client side of point selects: one COM_QUERY per read.
  const queries = 20_000;
  const query = framePacket(writeComQuery('SELECT c FROM sbtest1 WHERE id=4711'), 0);
  streams.push({ name: 'COM_QUERY, one per read', from: 'client', chunks: Array(queries).fill(query), packets: queries, replies: 0, perChunk: 0 });

  return streams;
}
