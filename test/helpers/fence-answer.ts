// What a compute answers a reply fence's command (relay/reply-fence.ts) with, for
// tests whose compute is a plain socket: the ERR its SIGNAL raises.
import type { Socket } from 'node:net';
import { CLIENT_PROTOCOL_41, framePacket, writeErrPacket } from '../../protocol/index.js';

/** The ERR (sequence 1) for the SIGNAL in `bytes`, or null if they hold no fence command. */
export function fenceAnswer(bytes: Buffer): Buffer | null {
  const found = /SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = '([^']+)'/.exec(bytes.toString('latin1'));
  if (!found) return null;
  return framePacket(writeErrPacket({ code: 1644, sqlState: '45000', message: found[1]! }, CLIENT_PROTOCOL_41), 1);
}

/** Makes `compute` (a plain socket standing in for one) answer every fence it is sent. */
export function answerFences(compute: Socket): void {
  compute.on('data', (chunk: Buffer) => {
    const answer = fenceAnswer(chunk);
    if (answer) compute.write(answer);
  });
}
