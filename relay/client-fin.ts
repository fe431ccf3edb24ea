// Client -> Server: a client that half-closes its socket (shutdown(SHUT_WR), FIN) after
// its last command. MariaDB answers everything the client sent before its FIN, then
// closes; so does every relay, with the machinery COM_QUIT already uses:
//
// - pipe: the FIN goes on to the compute, which answers and closes as it would directly;
// - session pooling: a goodbye like COM_QUIT, the replies relayed up to a fence
//   (reply-fence.ts), then the connection is reset and lent again;
// - transaction pooling: a COM_QUIT at the end of the client's queue, so its replies are
//   counted by the reply tracker (or fenced, when untracked) like a quitting client's.
//
// A FIN cannot tell a client that still reads from one gone for good: both send it. So a
// FIN never stops a statement; only a client whose socket fails or resets is taken for
// gone mid-statement (see the relays' statementRunning).
//
// Two states put a FIN off or change its meaning:
// - a KILL being decided (command-gate.ts): the client is paused and its FIN waits until
//   what goes in the KILL's place has gone on, so the compute sees the commands first;
// - a packet cut short: the compute may hold part of it (the streaming relays pass bytes
//   on as they come), and no fence or reset can follow that. Pipe mode passes the FIN on
//   regardless (the compute drops the partial packet and closes, as directly); session
//   pooling ends the session as if the client had gone.
import { COM_QUIT, type Packet } from '../protocol/index.js';
import type { CommandGate } from './command-gate.js';

/** What a streaming relay does with a FIN now. */
export type FinStep = 'after_kill' | 'cut_short' | 'goodbye';

export function finStep(gate: CommandGate): FinStep {
  if (gate.holding) return 'after_kill';
  return gate.atBoundary ? 'goodbye' : 'cut_short';
}

/**
 * Transaction pooling's stand-in for a FIN: a COM_QUIT after whatever the client queued
 * before it. A packet cut short stays in the relay's framer and never reaches a compute.
 */
export function queueFin(queue: Packet[]): void {
  queue.push({ sequenceId: 0, payload: QUIT_PAYLOAD });
}

const QUIT_PAYLOAD = Buffer.from([COM_QUIT]);
