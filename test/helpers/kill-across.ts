// A KILL QUERY from one client connection stopping another's statement, for the
// tests where the two connections reach different proxies (or workers).
import type mysql from 'mysql2/promise';

/** A SELECT SLEEP(30) on `victim`, killed from `killer` with the victim's id; how it ended and when. */
export async function killAcross(victim: mysql.Connection, killer: mysql.Connection): Promise<{ outcome: string; ms: number }> {
  const started = performance.now();
  const sleeping = victim.query('SELECT SLEEP(30)').then(
    () => 'finished',
    (err: any) => `error ${err.errno}`,
  );
  await new Promise((r) => setTimeout(r, 300));
  await killer.query(`KILL QUERY ${victim.threadId}`);
  const outcome = await sleeping;
  return { outcome, ms: Math.round(performance.now() - started) };
}
