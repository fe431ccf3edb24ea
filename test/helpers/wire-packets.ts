// What the wire fidelity sweeps share: commands as a bare client frames them, a
// logged-in bare session that pipelines a script and reads to its COM_QUIT, and the
// reply stream as one line per packet, with what differs between two runs of one
// statement on any connection (the optimizer's plan flags) masked.
import assert from 'node:assert/strict';
import { COM_QUERY, COM_QUIT, PacketReader, SERVER_SESSION_STATE_CHANGED, framePacket, okLayout } from '../../protocol/index.js';
import { readToClose } from './wire-exchange.js';
import { wireSession, type WireLogin } from './wire-login.js';

/** A command packet (sequence id 0): its code, then `body`. */
export function command(code: number, body: Buffer | string = Buffer.alloc(0)): Buffer {
  return framePacket(Buffer.concat([Buffer.from([code]), Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8')]), 0);
}

export const sql = (text: string): Buffer => command(COM_QUERY, text);

/**
 * A bare client (by default protocol 4.1, no multi-statements, no EOF deprecation, no
 * session tracking; `login` chooses otherwise): every byte after its login's OK, to its
 * COM_QUIT. The commands go pipelined, in one write: the server answers each in turn.
 */
export async function wire(port: number, commands: Buffer[], login: Partial<WireLogin> = {}): Promise<Buffer> {
  const { outcome, socket } = await wireSession({ port, user: Buffer.from('app'), password: 'app-secret', ...login });
  assert.equal(outcome.kind, 'ok', JSON.stringify(outcome));
  const received = readToClose(socket, 10_000);
  socket.write(Buffer.concat([...commands, command(COM_QUIT)]));
  return received;
}

/**
 * The packets of a reply stream, as text and hex, one per line: a difference shows where
 * it is. `statementIds`: the ids in COM_STMT_PREPARE_OKs (an OK at sequence id 1 of 12
 * bytes with a zero filler) are zeroed, as the server numbers statements across its
 * connections and transaction pooling numbers them per client. `variableOrder`: the
 * system variables of an OK's session-state block are sorted, as a server writes them in
 * the order of a hash of its own pointers, which differs between two mariadbd processes.
 */
export function packets(bytes: Buffer, o: { statementIds?: boolean; variableOrder?: boolean } = {}): string[] {
  const out: string[] = [];
  for (let at = 0; at + 4 <= bytes.length;) {
    const n = bytes.readUIntLE(at, 3);
    const payload = Buffer.from(bytes.subarray(at + 4, at + 4 + n));
    if (o.statementIds && bytes[at + 3] === 1 && n === 12 && payload[0] === 0 && payload[9] === 0) payload.fill(0, 1, 5);
    else withoutPlanFlags(payload, bytes[at + 3]!);
    if (o.variableOrder) sortVariables(payload);
    out.push(`${bytes[at + 3]}: ${payload.toString('latin1').replace(/[^\x20-\x7e]/g, '.')} [${payload.toString('hex')}]`);
    at += 4 + n;
  }
  return out;
}

/**
 * SERVER_QUERY_NO_GOOD_INDEX_USED and SERVER_QUERY_NO_INDEX_USED say which plan the
 * optimizer chose, which InnoDB's statistics (recalculated in the background as rows
 * change) can turn between two runs of one statement on any connection: cleared in an
 * OK (sequence id 1: a reply to a command, never a row), an EOF and an OK that ends a
 * result set (0xfe, shorter than a row could be) before comparing.
 */
function withoutPlanFlags(payload: Buffer, sequenceId: number): void {
  const PLAN_FLAGS = 0x10 | 0x20;
  if (payload[0] === 0xfe && payload.length === 5) {
    payload.writeUInt16LE(payload.readUInt16LE(3) & ~PLAN_FLAGS, 3);
  } else if ((payload[0] === 0x00 && sequenceId === 1) || (payload[0] === 0xfe && payload.length < 0xffffff)) {
    let at = 1;
    for (let i = 0; i < 2; i++) at += lenencSize(payload[at]!);
    if (at + 2 <= payload.length) payload.writeUInt16LE(payload.readUInt16LE(at) & ~PLAN_FLAGS, at);
  }
}

/** An OK's session-state entries, system variables first and sorted, in place (anything that is no flagged OK is left alone). */
function sortVariables(payload: Buffer): void {
  if (payload[0] !== 0x00 && payload[0] !== 0xfe) return;
  try {
    const { statusAt, stateAt } = okLayout(payload, 0, payload.length);
    if (stateAt < 0 || !(payload.readUInt16LE(statusAt) & SERVER_SESSION_STATE_CHANGED)) return;
    const r = new PacketReader(payload, stateAt);
    const total = r.lenencInt('block');
    const from = r.offset;
    const variables: Buffer[] = [];
    const rest: Buffer[] = [];
    while (r.offset < from + total) {
      const at = r.offset;
      const type = r.u8('type');
      r.skip(r.lenencInt('length'), 'entry');
      (type === 0 ? variables : rest).push(Buffer.from(payload.subarray(at, r.offset)));
    }
    if (r.offset !== from + total) return;
    Buffer.concat([...variables.sort(Buffer.compare), ...rest]).copy(payload, from);
  } catch {
    // Not an OK after all (a row): as it is.
  }
}

/** Bytes of a length-encoded integer that starts with `first`. */
function lenencSize(first: number): number {
  return first < 0xfb ? 1 : first === 0xfc ? 3 : first === 0xfd ? 4 : 9;
}
