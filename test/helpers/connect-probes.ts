// Real clients connecting with their own defaults and reading back the session they got:
// each driver sends its own things at connect (SET NAMES, SET autocommit, sql_mode,
// session_track_*, a handshake collation), so what it ends with depends on what the
// server (or the proxy) says at login. Every probe runs the same script: client A reads
// its session, client B (same driver, same options, so the same pool key) changes
// replayed settings and reads its own, A reads again (in transaction pooling on the
// connection B just used), B again, then client C logs in after B quit (session pooling:
// B's reset connection) and reads its own.
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import mariadb from 'mariadb';
import { makeTempDir, type TempDir } from './temp-dir.js';

/** What a client reads back about its session (the values as the driver prints them). */
export const CONNECT_PROBE =
  "SELECT @@collation_connection, @@character_set_client, @@character_set_results, @@character_set_connection, @@autocommit, @@sql_mode, @@time_zone, @@tx_isolation, @@session_track_schema, @@session_track_state_change, DATABASE(), CURRENT_USER(), 'ß' = 'ss', 'a' = 'A', @@character_set_server, @@collation_server";

/** Client B's own settings: replayed ones only (nothing that pins), so in transaction pooling A and B share a connection. */
export const OTHER_SETTINGS = ["SET NAMES latin1", "SET time_zone = '+05:00'", "SET sql_mode = 'ANSI_QUOTES'", "SET tx_isolation = 'SERIALIZABLE'", 'USE secret'];

/** Each read by its client and turn (a1, b1, a2, b2, c1): the values tab-separated, NULL as `NULL`. */
export type ProbeRows = Record<string, string>;

export interface ProbeTarget {
  port: number;
  user: string;
  password: string;
  database: string;
}

const line = (row: unknown[]) => row.map((v) => (v === null || v === undefined ? 'NULL' : String(v))).join('\t');

/** Runs the script with the in-process drivers: `connect` with defaults, `read` the probe's row. */
async function inProcess<C>(connect: () => Promise<C>, read: (c: C, sql: string) => Promise<unknown[]>, exec: (c: C, sql: string) => Promise<unknown>, end: (c: C) => Promise<void>): Promise<ProbeRows> {
  const rows: ProbeRows = {};
  const a = await connect();
  try {
    rows.a1 = line(await read(a, CONNECT_PROBE));
    const b = await connect();
    try {
      for (const s of OTHER_SETTINGS) await exec(b, s);
      rows.b1 = line(await read(b, CONNECT_PROBE));
      rows.a2 = line(await read(a, CONNECT_PROBE));
      rows.b2 = line(await read(b, CONNECT_PROBE));
    } finally {
      await end(b);
    }
    const c = await connect();
    try {
      rows.c1 = line(await read(c, CONNECT_PROBE));
    } finally {
      await end(c);
    }
  } finally {
    await end(a);
  }
  return rows;
}

export function mysql2Probe(t: ProbeTarget): Promise<ProbeRows> {
  return inProcess(
    () => mysql.createConnection({ host: '127.0.0.1', port: t.port, user: t.user, password: t.password, database: t.database }),
    async (c, sql) => ((await c.query({ sql, rowsAsArray: true }))[0] as unknown[][])[0]!,
    (c, sql) => c.query(sql),
    (c) => c.end(),
  );
}

export function mariadbConnectorProbe(t: ProbeTarget): Promise<ProbeRows> {
  return inProcess(
    () => mariadb.createConnection({ host: '127.0.0.1', port: t.port, user: t.user, password: t.password, database: t.database }),
    async (c, sql) => ((await c.query({ sql, rowsAsArray: true })) as unknown[][])[0]!,
    (c, sql) => c.query(sql),
    (c) => c.end(),
  );
}

/** The other clients' output: `label<TAB>values` lines. */
function parseRows(stdout: string): ProbeRows {
  const rows: ProbeRows = {};
  for (const l of stdout.split('\n')) {
    const tab = l.indexOf('\t');
    if (tab > 0) rows[l.slice(0, tab)] = l.slice(tab + 1);
  }
  return rows;
}

/** A child with the given locale (clients pick charsets and decode argv by it); its stdout, or its failure with stderr. */
function capture(file: string, args: string[], locale: string, env: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: 60_000, env: { ...process.env, LC_ALL: locale, ...env } }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${file} failed: ${err.message}\n${stderr}\n${stdout}`));
      else resolve(stdout);
    });
  });
}

const targetArgs = (t: ProbeTarget) => [String(t.port), t.user, t.password, t.database, CONNECT_PROBE, ...OTHER_SETTINGS];

const PYMYSQL = `
import sys, pymysql
port, user, password, db, probe, sets = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6:]
connect = lambda: pymysql.connect(host='127.0.0.1', port=port, user=user, password=password, database=db, connect_timeout=30)
def show(label, conn):
    with conn.cursor() as cur:
        cur.execute(probe)
        print('\\t'.join([label] + ['NULL' if v is None else str(v) for v in cur.fetchone()]))
a = connect()
show('a1', a)
b = connect()
with b.cursor() as cur:
    for s in sets:
        cur.execute(s)
show('b1', b); show('a2', a); show('b2', b)
b.close()
c = connect()
show('c1', c)
c.close(); a.close()
`;

/** Debian's python3-pymysql (autocommit off by default: it sends SET AUTOCOMMIT = 0 at connect). */
export async function pymysqlProbe(t: ProbeTarget): Promise<ProbeRows> {
  return parseRows(await capture('/usr/bin/python3', ['-c', PYMYSQL, ...targetArgs(t)], 'C.UTF-8'));
}

const PHP = `
mysqli_report(MYSQLI_REPORT_ERROR | MYSQLI_REPORT_STRICT);
[$api, $port, $user, $password, $db, $probe] = array_slice($argv, 1, 6);
$sets = array_slice($argv, 7);
if ($api === 'pdo') {
  $connect = fn() => new PDO("mysql:host=127.0.0.1;port=$port;dbname=$db", $user, $password, [PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION]);
  $row = fn($c) => $c->query($probe)->fetch(PDO::FETCH_NUM);
  $exec = fn($c, $s) => $c->exec($s);
} else {
  $connect = fn() => new mysqli('127.0.0.1', $user, $password, $db, (int)$port);
  $row = fn($c) => $c->query($probe)->fetch_row();
  $exec = fn($c, $s) => $c->query($s);
}
$show = function ($label, $c) use ($row) {
  echo $label, "\\t", implode("\\t", array_map(fn($v) => $v === null ? 'NULL' : $v, $row($c))), "\\n";
};
$a = $connect();
$show('a1', $a);
$b = $connect();
foreach ($sets as $s) $exec($b, $s);
$show('b1', $b); $show('a2', $a); $show('b2', $b);
$b = null;
$c = $connect();
$show('c1', $c);
`;

/** PHP's mysqlnd through mysqli or PDO_MYSQL. */
export async function phpProbe(t: ProbeTarget, api: 'mysqli' | 'pdo'): Promise<ProbeRows> {
  return parseRows(await capture('php', ['-r', PHP, '--', api, ...targetArgs(t)], 'C.UTF-8'));
}

const PERL = `
use strict; use warnings; use DBI;
my ($port, $user, $password, $db, $probe, @sets) = @ARGV;
my $connect = sub { DBI->connect("DBI:MariaDB:database=$db;host=127.0.0.1;port=$port", $user, $password, { RaiseError => 1, PrintError => 0 }) };
my $show = sub { my ($label, $c) = @_; print join("\\t", $label, map { defined $_ ? $_ : 'NULL' } $c->selectrow_array($probe)), "\\n" };
my $a = $connect->();
$show->('a1', $a);
my $b = $connect->();
$b->do($_) for @sets;
$show->('b1', $b); $show->('a2', $a); $show->('b2', $b);
$b->disconnect;
my $c = $connect->();
$show->('c1', $c);
$c->disconnect; $a->disconnect;
`;

/** Debian's DBD::MariaDB (libmariadb); -CSA: argv and output as UTF-8, so the probe's literals are characters. */
export async function perlProbe(t: ProbeTarget): Promise<ProbeRows> {
  return parseRows(await capture('perl', ['-CSA', '-e', PERL, ...targetArgs(t)], 'C.UTF-8'));
}

/**
 * The mariadb command line: client A runs the probe, then (a shell escape, `\!`) client
 * B as a second CLI with its settings and its probe, then the probe again; C is one more
 * CLI afterwards. `locale` picks its default character set (`auto`). A prints as it goes.
 */
export async function cliProbe(t: ProbeTarget, locale: string): Promise<ProbeRows> {
  const base = ['--no-defaults', '-h', '127.0.0.1', '-P', String(t.port), '-u', t.user, `-p${t.password}`, '-D', t.database, '--batch', '--skip-column-names'];
  const labelled = (label: string) => CONNECT_PROBE.replace(/^SELECT /, `SELECT '${label}', `) + ';';
  // B's command line is read by the shell from the environment, which the CLI's children inherit.
  const env = { PROBE_B: [...OTHER_SETTINGS.map((s) => `${s};`), labelled('b1')].join('\n'), PROBE_ARGS: base.join(' ') };
  const a = await capture('mariadb', [...base, '--unbuffered', '-e', [labelled('a1'), '\\! mariadb $PROBE_ARGS -e "$PROBE_B"', labelled('a2')].join('\n')], locale, env);
  const c = await capture('mariadb', [...base, '-e', labelled('c1')], locale);
  return parseRows(a + c);
}

const JAVA = `
import java.sql.*;

public class ConnectProbe {
  static String probe;

  public static void main(String[] a) throws Exception {
    String url = "jdbc:mariadb://127.0.0.1:" + a[0] + "/" + a[3];
    probe = a[4];
    try (Connection x = DriverManager.getConnection(url, a[1], a[2])) {
      show("a1", x);
      try (Connection b = DriverManager.getConnection(url, a[1], a[2])) {
        try (Statement s = b.createStatement()) { for (int i = 5; i < a.length; i++) s.execute(a[i]); }
        show("b1", b); show("a2", x); show("b2", b);
      }
      try (Connection c = DriverManager.getConnection(url, a[1], a[2])) { show("c1", c); }
    }
  }

  static void show(String label, Connection c) throws SQLException {
    try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(probe)) {
      rs.next();
      StringBuilder line = new StringBuilder(label);
      for (int i = 1; i <= rs.getMetaData().getColumnCount(); i++) { String v = rs.getString(i); line.append('\\t').append(v == null ? "NULL" : v); }
      System.out.println(line);
    }
  }
}
`;

const JAR = '/usr/share/java/mariadb-java-client.jar';
let javaDir: Promise<TempDir> | undefined;

/** Debian's Connector/J, as a single-file source program. */
export async function javaProbe(t: ProbeTarget): Promise<ProbeRows> {
  javaDir ??= makeTempDir('wake-proxy-java-probe-').then(async (dir) => {
    await writeFile(join(dir.path, 'ConnectProbe.java'), JAVA);
    return dir;
  });
  const dir = await javaDir;
  return parseRows(await capture('java', ['-cp', JAR, join(dir.path, 'ConnectProbe.java'), ...targetArgs(t)], 'C.UTF-8'));
}

export async function removeJavaProbe(): Promise<void> {
  await (await javaDir?.catch(() => undefined))?.remove();
}
