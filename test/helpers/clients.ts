// Real clients other than mysql2: the mariadb command line and Python's PyMySQL (also
// one that half-closes its socket after its statement).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

async function capture(file: string, args: string[], timeoutMs: number): Promise<CliResult> {
  try {
    const { stdout, stderr } = await run(file, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** `mariadb -e SQL` through the proxy; the password goes in MYSQL_PWD-free argv form like a user types it. */
export function mariadbCli(port: number, user: string, password: string, sql: string, extra: string[] = []) {
  return capture(
    'mariadb',
    // `-p` alone would prompt: an empty password is no -p at all.
    ['--no-defaults', '-h', '127.0.0.1', '-P', String(port), '-u', user, ...(password ? [`-p${password}`] : []), '--batch', '--skip-column-names', ...extra, '-e', sql],
    30_000,
  );
}

const PYMYSQL_SCRIPT = `
import sys, pymysql
port, user, password, sql = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
try:
    conn = pymysql.connect(host='127.0.0.1', port=port, user=user, password=password, connect_timeout=30)
    with conn.cursor() as cur:
        cur.execute(sql)
        for row in cur.fetchall():
            print('\\t'.join(str(v) for v in row))
    conn.close()
except pymysql.err.OperationalError as e:
    print(f"ERROR {e.args[0]}: {e.args[1]}", file=sys.stderr)
    sys.exit(3)
`;

/** Debian's python3-pymysql, run by Debian's own interpreter. */
export function pymysql(port: number, user: string, password: string, sql: string) {
  return capture('/usr/bin/python3', ['-c', PYMYSQL_SCRIPT, String(port), user, password, sql], 30_000);
}

const PYMYSQL_HALF_CLOSE_SCRIPT = `
import sys, socket, pymysql
from pymysql.constants import COMMAND
port, user, password, sql = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
conn = pymysql.connect(host='127.0.0.1', port=port, user=user, password=password, connect_timeout=30, read_timeout=30)
# The statement goes as PyMySQL sends it; then the socket is shut for writing (FIN) before its result is read.
conn._execute_command(COMMAND.COM_QUERY, sql)
conn._sock.shutdown(socket.SHUT_WR)
conn._read_query_result()
for row in conn._result.rows or ():
    print('\\t'.join(str(v) for v in row))
print('closed' if conn._sock.recv(1) == b'' else 'more bytes')
`;

/** PyMySQL sends `sql`, shuts its socket for writing, then reads the result and the close (prints the rows, then `closed`). */
export function pymysqlHalfClose(port: number, user: string, password: string, sql: string) {
  return capture('/usr/bin/python3', ['-c', PYMYSQL_HALF_CLOSE_SCRIPT, String(port), user, password, sql], 30_000);
}
