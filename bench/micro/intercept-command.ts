// Micro-benchmark of what a pooled relay does with every COM_QUERY before it goes on:
// whether to look at it (mayIntercept) and, if so, what it is (interceptCommand: a byte
// test, and the lexer only for a statement that names an id); and session pooling's
// command gate carrying one command per chunk, which holds a command it looks at.
//
//   node dist/bench/micro/intercept-command.js [--against OTHER/dist]
//
// With --against, the same is loaded from another build (the commit before a change,
// say) and the two alternate round by round in one process, so a noisy, shared machine
// slows both alike. Reported: ns per statement, median and best of the rounds.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as thisBuild from '../../relay/intercepted-command.js';
import * as thisGate from '../../relay/command-gate.js';
import { COM_QUERY, framePacket } from '../../protocol/index.js';

type Intercept = Pick<typeof thisBuild, 'mayIntercept' | 'interceptCommand'>;
type Gates = Pick<typeof thisGate, 'CommandGate'>;

const STATEMENTS: Array<[string, string]> = [
  ['point select', 'SELECT c FROM sbtest1 WHERE id=5012'],
  ['update', "UPDATE sbtest1 SET c='78147538398-30347417624-28329536183' WHERE id=5003"],
  ['insert, _id cols', "INSERT INTO orders (customer_id, total, created_at) VALUES (42, 19.99, '2026-11-30 08:00:00')"],
  [
    'report',
    'SELECT o.id, o.total, c.name, c.email, SUM(l.qty * l.price) AS amount FROM orders o JOIN customers c ON c.id = o.customer_id ' +
      'JOIN lines l ON l.order_id = o.id WHERE o.created_at >= NOW() - INTERVAL 7 DAY AND c.country IN (1, 2, 3) ' +
      'GROUP BY o.id, o.total, c.name, c.email HAVING amount > 100 ORDER BY amount DESC LIMIT 50',
  ],
  ['bulk insert 8 KiB', `INSERT INTO t VALUES ${Array.from({ length: 400 }, (_, i) => `(${i}, 'row ${i} text')`).join(', ')}`],
  ['bare id', 'SELECT CONNECTION_ID()'],
];

const ROUNDS = 15;
const PER_ROUND = 100_000;

/** A transaction relay's look at a whole statement. */
function classify(m: Intercept, payload: Buffer): number {
  const start = process.hrtime.bigint();
  let sink = 0;
  for (let i = 0; i < PER_ROUND; i++) {
    if (m.mayIntercept(COM_QUERY, payload[1]!, payload.length, true, true) && m.interceptCommand(payload, true) !== null) sink++;
  }
  if (sink < 0) throw new Error('unreachable');
  return Number(process.hrtime.bigint() - start) / PER_ROUND;
}

/** Session pooling's gate, one command per chunk. */
function gate(g: Gates, packet: Buffer): number {
  let sent = 0;
  const side = {
    toCompute: (b: Buffer) => {
      sent += b.length;
      return true;
    },
    pauseClient: () => undefined,
    resumeClient: () => undefined,
    quit: () => undefined,
    broken: () => {
      throw new Error('broken');
    },
  };
  const gateway = new g.CommandGate(side, { dropQuit: true, pooled: true, sessionId: 2 ** 30 });
  const start = process.hrtime.bigint();
  for (let i = 0; i < PER_ROUND; i++) gateway.push(packet);
  const ns = Number(process.hrtime.bigint() - start) / PER_ROUND;
  if (sent === 0) throw new Error('nothing went on');
  return ns;
}

function median(t: number[]): string {
  t.sort((a, b) => a - b);
  return `${t[t.length >> 1]!.toFixed(0)} / ${t[0]!.toFixed(0)}`;
}

async function main(): Promise<void> {
  const at = process.argv.indexOf('--against');
  const builds: Array<[string, Intercept, Gates]> = [['this build', thisBuild, thisGate]];
  if (at > 0) {
    const dir = resolve(process.argv[at + 1]!);
    const other = (await import(pathToFileURL(resolve(dir, 'relay/intercepted-command.js')).href)) as Intercept;
    const otherGate = (await import(pathToFileURL(resolve(dir, 'relay/command-gate.js')).href)) as Gates;
    builds.unshift(['other build', other, otherGate]);
  }
  const header = builds.map(([name]) => `${name} median/best ns`.padStart(28)).join('');
  for (const [what, run] of [
    ['classify (transaction)', (b: (typeof builds)[number], payload: Buffer, packet: Buffer) => (void packet, classify(b[1], payload))],
    ['gate (session)', (b: (typeof builds)[number], payload: Buffer, packet: Buffer) => (void payload, gate(b[2], packet))],
  ] as const) {
    console.log(`${what.padEnd(24)}${header}`);
    for (const [label, text] of STATEMENTS) {
      const payload = Buffer.concat([Buffer.from([COM_QUERY]), Buffer.from(text, 'latin1')]);
      const packet = framePacket(payload, 0);
      const times: number[][] = builds.map(() => []);
      for (const b of builds) run(b, payload, packet); // warm up
      for (let r = 0; r < ROUNDS; r++) builds.forEach((b, j) => times[j]!.push(run(b, payload, packet)));
      console.log(`  ${label.padEnd(22)}${times.map((t) => median(t).padStart(28)).join('')}`);
    }
  }
}

await main();
