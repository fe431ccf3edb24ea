// Micro-benchmark of the transaction relay's statement judge (relay/pin-rules.ts
// judgeQuery), which reads every COM_QUERY's text: what the stored-code names that pin
// cost per statement, with none (the common case), with names the statement does not
// mention, and against another build's judge.
//
//   node dist/bench/micro/pin-judge.js [--quick] [--against OTHER/dist]
//
// Rounds of each contender alternate in one process (the first of each round taking
// turns), so a busy machine slows them alike; reported: ns per statement, median and
// best of the rounds.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { StoredCodeNames } from '../../relay/stored-code-names.js';

type Judge = (sql: Buffer, tracked?: boolean, code?: StoredCodeNames | null) => { pin: string | null };

const STATEMENTS: Record<string, Buffer> = {
  'point select': Buffer.from('SELECT c FROM sbtest1 WHERE id=5012'),
  update: Buffer.from("UPDATE sbtest3 SET c='68487932199-96439406143-93774651418-41631865787-96406072701' WHERE id=4982"),
  'ORM select (600 B)': Buffer.from(
    'SELECT `orders`.`id`, `orders`.`customer_id`, `orders`.`status`, `orders`.`created_at`, `orders`.`updated_at`, ' +
      '`customers`.`id` AS `customer.id`, `customers`.`email` AS `customer.email`, `customers`.`name` AS `customer.name` ' +
      'FROM `orders` LEFT OUTER JOIN `customers` ON `orders`.`customer_id` = `customers`.`id` ' +
      "WHERE `orders`.`status` IN ('open', 'pending', 'shipped') AND `orders`.`created_at` > '2026-01-01 00:00:00' " +
      'AND `customers`.`email` LIKE \'%@example.com\' ORDER BY `orders`.`created_at` DESC LIMIT 50 OFFSET 100',
  ),
};

function codeWith(names: string[]): StoredCodeNames {
  const code = new StoredCodeNames();
  code.update({ readAt: new Date().toISOString(), names });
  return code;
}

/** ns per statement over `n` judgements. */
function timeOnce(judge: Judge, sql: Buffer, code: StoredCodeNames | null, n: number): number {
  let pins = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) if (judge(sql, true, code).pin !== null) pins++;
  const ns = Number(process.hrtime.bigint() - t0) / n;
  if (pins !== 0) throw new Error('a plain statement pinned');
  return ns;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  const against = args.includes('--against') ? args[args.indexOf('--against') + 1] : undefined;
  const here = (await import('../../relay/pin-rules.js')).judgeQuery as Judge;
  const contenders: Array<{ name: string; judge: Judge; code: StoredCodeNames | null }> = [
    { name: 'this build, stored code not followed', judge: here, code: null },
    { name: 'this build, no stored code that pins', judge: here, code: codeWith([]) },
    { name: 'this build, 20 names not mentioned', judge: here, code: codeWith(Array.from({ length: 20 }, (_, i) => `lock_fn_${i}`)) },
  ];
  if (against) {
    const other = (await import(pathToFileURL(resolve(against, 'relay/pin-rules.js')).href)).judgeQuery as Judge;
    contenders.unshift({ name: `--against ${against}`, judge: (sql, tracked) => other(sql, tracked), code: null });
  }
  const n = quick ? 20_000 : 100_000;
  const rounds = quick ? 9 : 31;
  console.log('| statement | judge | median ns | best ns |');
  console.log('|---|---|---|---|');
  for (const [what, sql] of Object.entries(STATEMENTS)) {
    for (const c of contenders) timeOnce(c.judge, sql, c.code, n); // warm up
    const samples = contenders.map(() => [] as number[]);
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? contenders : [...contenders].reverse();
      for (const c of order) samples[contenders.indexOf(c)]!.push(timeOnce(c.judge, sql, c.code, n));
    }
    contenders.forEach((c, i) => {
      const s = samples[i]!.sort((a, b) => a - b);
      console.log(`| ${what} | ${c.name} | ${s[s.length >> 1]!.toFixed(0)} | ${s[0]!.toFixed(0)} |`);
    });
  }
}

await main();
