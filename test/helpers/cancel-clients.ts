// Real clients cancelling a running statement the way each does it, for the KILL
// tests: the mariadb CLI (KILL QUERY with the id `status` shows, from a second CLI),
// Connector/J's Statement.cancel() (Debian's libmariadb-java, compiled with the JDK's
// javac), and PyMySQL (KILL QUERY with thread_id(), and kill(), which sends
// COM_PROCESS_KILL).
import { execFile, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { makeTempDir, type TempDir } from './temp-dir.js';

const run = promisify(execFile);

export interface Interrupted {
  /** How long the statement ran, from its start to its end (ms). */
  ms: number;
  /** What the client reported: the error text, or the result. */
  outcome: string;
  /** The session's next statement worked. */
  after: string;
}

/**
 * `mariadb -e "status; SELECT SLEEP(s)"`, and the connection id `status` printed. Line
 * buffered (stdbuf): into a pipe the CLI would print `status` only when it exits.
 */
export function cliSleep(port: number, user: string, password: string, seconds: number): { id: Promise<number>; done: Promise<{ code: number | null; out: string; ms: number }> } {
  const args = ['--no-defaults', '-h', '127.0.0.1', '-P', String(port), '-u', user, `-p${password}`, '--unbuffered', '-e', `status; SELECT SLEEP(${seconds})`];
  const child = spawn('stdbuf', ['-oL', 'mariadb', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let started = 0;
  const id = new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /Connection id:\s+(\d+)/.exec(out);
      if (m && !started) {
        started = performance.now();
        resolve(Number(m[1]));
      }
    });
    child.once('close', () => reject(new Error(`mariadb CLI ended before printing its connection id: ${out}`)));
  });
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  // 'close', not 'exit': the last output may still be on its way when the process exits.
  const done = new Promise<{ code: number | null; out: string; ms: number }>((resolve) =>
    child.once('close', (code) => resolve({ code, out, ms: Math.round(performance.now() - started) })),
  );
  id.catch(() => undefined);
  return { id, done };
}

const JAVA_CANCEL = `
import java.sql.*;

public class Cancel {
  public static void main(String[] a) throws Exception {
    String url = "jdbc:mariadb://127.0.0.1:" + a[0] + "/";
    try (Connection c = DriverManager.getConnection(url, a[1], a[2])) {
      Statement st = c.createStatement();
      Thread canceller = new Thread(() -> {
        try { Thread.sleep(500); st.cancel(); } catch (Exception e) { System.out.println("cancel failed: " + e); }
      });
      long t0 = System.nanoTime();
      canceller.start();
      String outcome;
      try (ResultSet rs = st.executeQuery("SELECT SLEEP(30)")) { rs.next(); outcome = "result " + rs.getInt(1); }
      catch (SQLException e) { outcome = "error " + e.getErrorCode() + " " + e.getMessage(); }
      long ms = (System.nanoTime() - t0) / 1000000;
      canceller.join();
      try (ResultSet rs = st.executeQuery("SELECT 41 + 1")) { rs.next(); System.out.println("after " + rs.getInt(1)); }
      System.out.println("ms " + ms);
      System.out.println("outcome " + outcome);
    }
  }
}
`;

const JAR = '/usr/share/java/mariadb-java-client.jar';
let javaDir: Promise<TempDir> | undefined;

/** Connector/J: Statement.cancel() 500 ms into a SELECT SLEEP(30). Compiled once per test process. */
export async function javaCancel(port: number, user: string, password: string): Promise<Interrupted> {
  javaDir ??= (async () => {
    const dir = await makeTempDir('wake-proxy-java-');
    await writeFile(join(dir.path, 'Cancel.java'), JAVA_CANCEL);
    await run('javac', ['-cp', JAR, '-d', dir.path, join(dir.path, 'Cancel.java')], { timeout: 120_000 });
    return dir;
  })();
  const dir = await javaDir;
  const { stdout } = await run('java', ['-cp', `${JAR}:${dir.path}`, 'Cancel', String(port), user, password], { timeout: 60_000 });
  return parseReport(stdout);
}

export async function removeJavaBuild(): Promise<void> {
  await (await javaDir?.catch(() => undefined))?.remove();
}

const PYMYSQL_CANCEL = `
import sys, threading, time, pymysql
port, user, password, how = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
connect = lambda: pymysql.connect(host='127.0.0.1', port=port, user=user, password=password, connect_timeout=30)
victim, killer = connect(), connect()
tid = victim.thread_id()
def cancel():
    time.sleep(0.5)
    if how == 'query':
        with killer.cursor() as cur:
            cur.execute('KILL QUERY %d' % tid)
    else:
        killer.kill(tid)
threading.Thread(target=cancel).start()
t0 = time.monotonic()
try:
    with victim.cursor() as cur:
        cur.execute('SELECT SLEEP(30)')
        outcome = 'result %s' % (cur.fetchone(),)
except pymysql.err.MySQLError as e:
    outcome = 'error %s %s' % (e.args[0], e.args[1] if len(e.args) > 1 else '')
ms = int((time.monotonic() - t0) * 1000)
try:
    with victim.cursor() as cur:
        cur.execute('SELECT 41 + 1')
        print('after %s' % cur.fetchone()[0])
except pymysql.err.MySQLError as e:
    print('after error %s' % (e.args[0],))
print('ms %d' % ms)
print('outcome %s' % outcome)
print('thread %d' % tid)
`;

/** PyMySQL: `KILL QUERY <thread_id()>` from a second connection ('query'), or kill(thread_id()) (COM_PROCESS_KILL). */
export async function pymysqlCancel(port: number, user: string, password: string, how: 'query' | 'process_kill'): Promise<Interrupted & { thread: number }> {
  const { stdout } = await run('/usr/bin/python3', ['-c', PYMYSQL_CANCEL, String(port), user, password, how], { timeout: 60_000 });
  return { ...parseReport(stdout), thread: Number(/^thread (\d+)$/m.exec(stdout)?.[1]) };
}

function parseReport(stdout: string): Interrupted {
  const field = (name: string) => new RegExp(`^${name} (.*)$`, 'm').exec(stdout)?.[1] ?? '';
  return { ms: Number(field('ms')), outcome: field('outcome'), after: field('after') };
}
