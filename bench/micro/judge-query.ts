// Micro-benchmark of judgeQuery (relay/pin-rules.ts), the statement scan transaction
// pooling runs on every COM_QUERY: typical statements of an application (sysbench's
// read-write set, an ORM's INSERT, a long report query) and ones that mention the
// previous statement's values.
//
//   node dist/bench/micro/judge-query.js [--against OTHER/dist]
//
// With --against, judgeQuery is also loaded from another build (the commit before a
// change, say) and the two alternate round by round in one process, so a noisy, shared
// machine slows both alike. Reported: ns per statement, median and best of the rounds.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { judgeQuery } from '../../relay/pin-rules.js';

type Judge = (sql: Buffer, tracked?: boolean) => unknown;

const STATEMENTS: Array<[string, string]> = [
  ['point select', 'SELECT c FROM sbtest1 WHERE id=5012'],
  ['range select', 'SELECT DISTINCT c FROM sbtest1 WHERE id BETWEEN 4937 AND 5036 ORDER BY c'],
  ['update', "UPDATE sbtest1 SET c='78147538398-30347417624-28329536183' WHERE id=5003"],
  ['insert', "INSERT INTO orders (customer_id, total, created_at) VALUES (42, 19.99, '2026-11-30 08:00:00')"],
  [
    'report',
    'SELECT o.id, o.total, c.name, c.email, SUM(l.qty * l.price) AS amount FROM orders o JOIN customers c ON c.id = o.customer_id ' +
      'JOIN lines l ON l.order_id = o.id WHERE o.created_at >= NOW() - INTERVAL 7 DAY AND c.country IN (1, 2, 3) ' +
      'GROUP BY o.id, o.total, c.name, c.email HAVING amount > 100 ORDER BY amount DESC LIMIT 50',
  ],
  ['last insert id', "INSERT INTO child (parent_id, name) VALUES (LAST_INSERT_ID(), 'x')"],
  ['row count', 'SELECT ROW_COUNT()'],
];

const ROUNDS = 15;
const PER_ROUND = 200_000;

function round(judge: Judge, sql: Buffer): number {
  const start = process.hrtime.bigint();
  let sink = 0;
  for (let i = 0; i < PER_ROUND; i++) if (judge(sql, true) !== null) sink++;
  if (sink !== PER_ROUND) throw new Error('judgeQuery answered null');
  return Number(process.hrtime.bigint() - start) / PER_ROUND;
}

async function main(): Promise<void> {
  const at = process.argv.indexOf('--against');
  const judges: Array<[string, Judge]> = [['this build', judgeQuery]];
  if (at > 0) {
    const other = (await import(pathToFileURL(resolve(process.argv[at + 1]!, 'relay/pin-rules.js')).href)) as { judgeQuery: Judge };
    judges.unshift(['other build', other.judgeQuery]);
  }
  console.log(`statement        ${judges.map(([name]) => `${name} median/best ns`.padStart(28)).join('')}`);
  for (const [label, text] of STATEMENTS) {
    const sql = Buffer.from(text);
    const times: number[][] = judges.map(() => []);
    for (const [, judge] of judges) round(judge, sql); // warm up
    for (let r = 0; r < ROUNDS; r++) judges.forEach(([, judge], j) => times[j]!.push(round(judge, sql)));
    const cells = times.map((t) => {
      t.sort((a, b) => a - b);
      return `${t[t.length >> 1]!.toFixed(0)} / ${t[0]!.toFixed(0)}`.padStart(28);
    });
    console.log(`${label.padEnd(17)}${cells.join('')}`);
  }
}

await main();
