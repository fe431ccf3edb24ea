// sysbench's oltp_point_select as the load generator: a C client whose own
// cost is small next to the server's, so it measures the path, not itself.
// Its text report is parsed for queries/s, errors and the latency histogram.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BENCH_DATABASE } from './mariadb.js';
import type { Endpoint } from './contenders.js';
import { Histogram } from './histogram.js';
import { findExecutable, runCommand } from './processes.js';

export interface SysbenchRun {
  qps: number;
  queries: number;
  errors: number;
  seconds: number;
  histogram: Histogram;
  /** With reportEverySecond: each second's queries per second and p99 latency. */
  perSecond: Array<{ second: number; qps: number; p99Ms: number }>;
}

export function findSysbench(): Promise<string | undefined> {
  return findExecutable('sysbench');
}

/** Where and as whom sysbench connects. */
function connectionArgs(e: Endpoint, database = BENCH_DATABASE): string[] {
  return [
    `--mysql-host=${e.host}`,
    `--mysql-port=${e.port}`,
    `--mysql-user=${e.user}`,
    `--mysql-password=${e.password}`,
    `--mysql-db=${database}`,
  ];
}

function commonArgs(e: Endpoint, tableSize: number): string[] {
  return ['oltp_point_select', ...connectionArgs(e), '--tables=1', `--table-size=${tableSize}`];
}

/** oltp_read_write's tables: a database of their own (point selects' sbtest1 stays as it is). */
export interface ReadWriteTables {
  database: string;
  tables: number;
  tableSize: number;
}

function readWriteArgs(e: Endpoint, t: ReadWriteTables): string[] {
  return ['oltp_read_write', ...connectionArgs(e, t.database), `--tables=${t.tables}`, `--table-size=${t.tableSize}`];
}

/** A timed run with the latency histogram; a failed query is counted rather than ending the run. */
function runArgs(threads: number, seconds: number, extra: string[] = []): string[] {
  return [
    `--threads=${threads}`,
    `--time=${seconds}`,
    '--events=0',
    '--histogram=on',
    '--percentile=99',
    '--mysql-ignore-errors=all',
    ...extra,
    'run',
  ];
}

/** Creates and fills sbtest1 (directly against the backend, once). */
export async function prepareSysbench(binary: string, e: Endpoint, tableSize: number): Promise<void> {
  const r = await runCommand(binary, [...commonArgs(e, tableSize), 'prepare'], 120_000);
  if (r.code !== 0) throw new Error(`sysbench prepare failed: ${lastLines(r.stdout + r.stderr)}`);
}

/** Creates and fills oltp_read_write's tables (directly against the backend, once; the database must exist). */
export async function prepareSysbenchReadWrite(binary: string, e: Endpoint, t: ReadWriteTables): Promise<void> {
  const r = await runCommand(binary, [...readWriteArgs(e, t), 'prepare'], 300_000);
  if (r.code !== 0) throw new Error(`sysbench oltp_read_write prepare failed: ${lastLines(r.stdout + r.stderr)}`);
}

export interface SysbenchReadWriteRun extends SysbenchRun {
  transactions: number;
  /** Transactions per second. */
  tps: number;
}

/**
 * oltp_read_write with binary prepared statements where the driver can (`--db-ps-mode=auto`,
 * sysbench's default, given so it stays that way): each transaction is BEGIN, 14 selects,
 * 4 writes and COMMIT. The latency histogram is per transaction.
 */
export async function runSysbenchReadWrite(binary: string, e: Endpoint, t: ReadWriteTables, threads: number, seconds: number): Promise<SysbenchReadWriteRun> {
  const args = [...readWriteArgs(e, t), '--db-ps-mode=auto', ...runArgs(threads, seconds)];
  const r = await runCommand(binary, args, (seconds + 30) * 1_000);
  if (r.code !== 0) throw new Error(`sysbench oltp_read_write failed: ${lastLines(r.stdout + r.stderr)}`);
  const { count, rate } = parseTransactions(r.stdout, 'sysbench oltp_read_write');
  return { ...parseSysbenchReport(r.stdout), transactions: count, tps: rate };
}

export interface SysbenchLoad {
  tableSize: number;
  threads: number;
  seconds: number;
  /**
   * With e.tls, sysbench 1.0 (`--mysql-ssl=on`) reads client-key.pem,
   * client-cert.pem and cacert.pem from its working directory: the directory
   * that holds them (see tls-files.ts).
   */
  tlsDir?: string;
  /** Report each second's throughput and p99 (perSecond). */
  reportEverySecond?: boolean;
  /** Queries per second offered at a steady pace (open loop), instead of as fast as the threads go. */
  rate?: number;
}

export async function runSysbench(binary: string, e: Endpoint, load: SysbenchLoad): Promise<SysbenchRun> {
  const { tableSize, threads, seconds, tlsDir } = load;
  if (e.tls && !tlsDir) throw new Error('sysbench over TLS needs the directory with its client files');
  const args = [
    ...commonArgs(e, tableSize),
    ...(e.tls ? ['--mysql-ssl=on'] : []),
    ...runArgs(threads, seconds, [
      ...(load.reportEverySecond ? ['--report-interval=1'] : []),
      ...(load.rate ? [`--rate=${load.rate}`] : []),
    ]),
  ];
  const r = await runCommand(binary, args, (seconds + 30) * 1_000, e.tls ? { cwd: tlsDir! } : {});
  if (r.code !== 0) throw new Error(`sysbench run failed: ${lastLines(r.stdout + r.stderr)}`);
  return parseSysbenchReport(r.stdout);
}

/**
 * sysbench's connect loop: each event connects (a new MySQL connection from
 * the C client library), runs SELECT 1 and disconnects, so what is measured is
 * the path's connection setup, not a Node client's. The script is written into
 * dir (the bench's scratch directory) on first use.
 */
const CHURN_SCRIPT = `-- one event: connect, SELECT 1, disconnect
function thread_init()
  drv = sysbench.sql.driver()
end
function event()
  local con = drv:connect()
  con:query("SELECT 1")
  con:disconnect()
end
`;

export interface SysbenchChurnRun {
  /** Connections (events) per second. */
  rate: number;
  connections: number;
  errors: number;
  histogram: Histogram;
}

export async function runSysbenchChurn(binary: string, e: Endpoint, dir: string, threads: number, seconds: number): Promise<SysbenchChurnRun> {
  const script = join(dir, 'churn.lua');
  await writeFile(script, CHURN_SCRIPT);
  const args = [script, ...connectionArgs(e), ...runArgs(threads, seconds)];
  const r = await runCommand(binary, args, (seconds + 30) * 1_000, { cwd: dir });
  if (r.code !== 0) throw new Error(`sysbench churn failed: ${lastLines(r.stdout + r.stderr)}`);
  const report = parseSysbenchReport(r.stdout);
  const { count, rate } = parseTransactions(r.stdout, 'sysbench churn');
  return { rate, connections: count, errors: report.errors, histogram: report.histogram };
}

/** Reads the "queries:", "ignored errors:", "total time:" lines and the histogram. */
export function parseSysbenchReport(text: string): SysbenchRun {
  const num = (re: RegExp, what: string): number => {
    const m = re.exec(text);
    if (!m) throw new Error(`sysbench report has no ${what}:\n${lastLines(text)}`);
    return Number(m[1]);
  };
  const queries = num(/^\s*queries:\s+(\d+)/m, 'queries line');
  const qps = num(/^\s*queries:\s+\d+\s+\(([\d.]+) per sec\.\)/m, 'queries per second');
  const errors = num(/^\s*ignored errors:\s+(\d+)/m, 'ignored errors line');
  const seconds = num(/^\s*total time:\s+([\d.]+)s/m, 'total time');
  const histogram = new Histogram();
  // "       0.027 |**                                       1057"
  for (const m of text.matchAll(/^\s*([\d.]+)\s+\|\**\s+(\d+)\s*$/gm)) histogram.record(Number(m[1]), Number(m[2]));
  if (histogram.count === 0) throw new Error(`sysbench report has no latency histogram:\n${lastLines(text)}`);
  // With --report-interval=1: "[ 3s ] thds: 4 tps: 5012.91 qps: 5012.91 (r/w/o: ...) lat (ms,99%): 1.47 err/s: 0.00 ..."
  const perSecond = [...text.matchAll(/^\[ (\d+)s \] thds: \d+ tps: [\d.]+ qps: ([\d.]+) .*?lat \(ms,\d+%\): ([\d.]+)/gm)].map((m) => ({
    second: Number(m[1]),
    qps: Number(m[2]),
    p99Ms: Number(m[3]),
  }));
  return { qps, queries, errors, seconds, histogram, perSecond };
}

/** The "transactions:" line: how many, and per second. */
function parseTransactions(text: string, what: string): { count: number; rate: number } {
  const m = /^\s*transactions:\s+(\d+)\s+\(([\d.]+) per sec\.\)/m.exec(text);
  if (!m) throw new Error(`${what} report has no transactions line:\n${lastLines(text)}`);
  return { count: Number(m[1]), rate: Number(m[2]) };
}

function lastLines(text: string, n = 6): string {
  return text.trim().split('\n').slice(-n).join('\n');
}
