// A bare client's commands and what it read back, for tests that compare the raw wire
// directly and through the proxy: commands built byte for byte, a logged-in session that
// sends them pipelined and reads to the close, and the reply stream cut into packets with
// what legitimately differs between two runs masked.
import assert from 'node:assert/strict';
import { COM_QUERY, COM_QUIT, framePacket } from '../../protocol/index.js';
import { readToClose } from './wire-exchange.js';
import { wireSession } from './wire-login.js';

/** A client command packet: `code`, then `body`. */
export function command(code: number, body: Buffer | string = Buffer.alloc(0)): Buffer {
  return framePacket(Buffer.concat([Buffer.from([code]), Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8')]), 0);
}

/** A COM_QUERY packet. */
export const sql = (text: string): Buffer => command(COM_QUERY, text);

export interface WireOptions {
  /** MariaDB's extended capabilities to ask for (MARIADB_CLIENT_STMT_BULK_OPERATIONS). */
  mariadbCapabilities?: number;
  /** How long the session may take to its close (default 10 s). */
  timeoutMs?: number;
}

/** A bare client (protocol 4.1, no multi-statements, no EOF deprecation, no session tracking): every byte after its login's OK, to its COM_QUIT. */
export async function wire(port: number, commands: Buffer[], user = 'app', password = 'app-secret', o: WireOptions = {}): Promise<Buffer> {
  const { outcome, socket } = await wireSession({ port, user: Buffer.from(user), password, ...(o.mariadbCapabilities ? { mariadbCapabilities: o.mariadbCapabilities } : {}) });
  assert.equal(outcome.kind, 'ok', JSON.stringify(outcome));
  const received = readToClose(socket, o.timeoutMs ?? 10_000);
  // Pipelined, in one write: the server answers each in turn.
  socket.write(Buffer.concat([...commands, command(COM_QUIT)]));
  return received;
}

/** The packets of a reply stream, as hex, one per line: a difference shows where it is. */
export function packets(bytes: Buffer): string[] {
  const out: string[] = [];
  for (let at = 0; at + 4 <= bytes.length;) {
    const n = bytes.readUIntLE(at, 3);
    const payload = Buffer.from(bytes.subarray(at + 4, at + 4 + n));
    withoutPlanFlags(payload, bytes[at + 3]!);
    out.push(`${bytes[at + 3]}: ${payload.toString('latin1').replace(/[^\x20-\x7e]/g, '.')} [${payload.toString('hex')}]`);
    at += 4 + n;
  }
  return out;
}

/**
 * SERVER_QUERY_NO_GOOD_INDEX_USED and SERVER_QUERY_NO_INDEX_USED say which plan the
 * optimizer chose, which InnoDB's statistics (recalculated in the background as rows
 * change) can turn between two runs of one statement on any connection: cleared in an
 * OK (sequence id 1: a reply to a command, never a row) and an EOF before comparing.
 */
function withoutPlanFlags(payload: Buffer, sequenceId: number): void {
  const PLAN_FLAGS = 0x10 | 0x20;
  if (payload[0] === 0xfe && payload.length < 9 && payload.length >= 5) {
    payload.writeUInt16LE(payload.readUInt16LE(3) & ~PLAN_FLAGS, 3);
  } else if (payload[0] === 0x00 && sequenceId === 1) {
    let at = 1;
    for (let i = 0; i < 2; i++) at += lenencSize(payload[at]!);
    if (at + 2 <= payload.length) payload.writeUInt16LE(payload.readUInt16LE(at) & ~PLAN_FLAGS, at);
  }
}

/** Bytes of a length-encoded integer that starts with `first`. */
function lenencSize(first: number): number {
  return first < 0xfb ? 1 : first === 0xfc ? 3 : first === 0xfd ? 4 : 9;
}
