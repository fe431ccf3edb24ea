// Looking at a process-driver compute from the outside, as a test must: a real
// client query, a TCP probe, and the kernel's view of its mariadbd.
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import mysql from 'mysql2/promise';

export interface Login {
  host: string;
  port: number;
  user: string;
  password: string;
}

/** Connects straight to the compute (no proxy), runs one query, disconnects. */
export async function queryCompute(login: Login, sql: string): Promise<any[]> {
  const conn = await mysql.createConnection({ ...login, connectTimeout: 10_000 });
  try {
    const [rows] = await conn.query(sql);
    return rows as any[];
  } finally {
    await conn.end();
  }
}

/** Whether nothing accepts TCP connections on 127.0.0.1:port. */
export function portIsClosed(port: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: '127.0.0.1', port });
    sock.once('connect', () => {
      sock.destroy();
      resolve(false);
    });
    sock.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED') resolve(true);
      else reject(err);
    });
  });
}

/** The pid the process driver recorded for a running compute. */
export async function computePid(dataDir: string, computeId: string): Promise<number> {
  const run = JSON.parse(await readFile(join(dataDir, 'computes', computeId, 'run.json'), 'utf8')) as { pid: number };
  return run.pid;
}

/** The kernel's one-letter process state ('S', 'R', 'T', ...), or undefined once gone. */
export async function kernelState(pid: number): Promise<string | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  return stat?.slice(stat.lastIndexOf(')') + 2).charAt(0);
}
