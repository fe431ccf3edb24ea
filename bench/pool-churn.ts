// The pool's own cost per borrow: acquire + release against a fake login, no mariadbd.
//
//   node --expose-gc dist/bench/pool-churn.js [--n 20000]
//
// The "compute" is a loopback server that answers the pool's own commands (the
// baseline query after a login, COM_RESET_CONNECTION, COM_PING) with fixed replies,
// so what is measured is the pool: its lists, waits, timers and promises, plus, for
// the `reset` rows, one loopback round trip per release. Rows:
//   no reset    one borrower, release({ reset: false }) as transaction mode does between statements
//   reset       one borrower, release({ reset: true }) as session mode does on COM_QUIT
//   contended   8 borrowers on a compute limited to 4 connections (waiters queue), no reset
// Allocation is counted as V8 heap growth plus whatever each GC freed in between
// (v8.GCProfiler), so it is every byte allocated on the JS heap per acquire + release.
import { createServer, type Server, type Socket } from 'node:net';
import { GCProfiler } from 'node:v8';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { framePacket } from '../protocol/framing.js';
import { PacketWriter } from '../protocol/packet-writer.js';
import {
  CLIENT_PROTOCOL_41,
  CLIENT_SECURE_CONNECTION,
  CLIENT_TRANSACTIONS,
  UTF8MB4_GENERAL_CI,
} from '../protocol/constants.js';
import { connectBackendSocket } from '../backend/backend-socket.js';
import type { BackendKey, BackendLogin } from '../backend/login.js';
import type { Greeting } from '../protocol/index.js';
import { createBackendPools, type BackendPools } from '../pool/backend-pool.js';

const CAPS = (CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_TRANSACTIONS) >>> 0;

/** Server -> client replies, sequence ids from 1. */
const OK = framePacket(Buffer.from([0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00]), 1);
const EOF = Buffer.from([0xfe, 0x00, 0x00, 0x02, 0x00]);
const BASELINE_ROWS = Buffer.concat(
  [
    Buffer.from([0x02]),
    column('DATABASE()'),
    column('CURRENT_ROLE()'),
    EOF,
    Buffer.from([0xfb, 0xfb]), // two NULLs
    EOF,
  ].map((payload, i) => framePacket(payload, i + 1)),
);

function column(name: string): Buffer {
  return new PacketWriter()
    .lenencString('def')
    .lenencString('')
    .lenencString('')
    .lenencString('')
    .lenencString(name)
    .lenencString('')
    .lenencInt(0x0c)
    .bytes(Buffer.from([0x21, 0x00, 0, 1, 0, 0, 0xfd, 0x80, 0x00, 0x1f, 0x00, 0x00]))
    .payload();
}

/** Answers each command packet: COM_QUERY with the baseline row, anything else OK. */
function answer(socket: Socket): void {
  let pending: Buffer = Buffer.alloc(0);
  socket.setNoDelay(true);
  socket.on('error', () => {});
  socket.on('data', (chunk: Buffer) => {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    const replies: Buffer[] = [];
    while (pending.length >= 4) {
      const length = pending.readUIntLE(0, 3);
      if (pending.length < 4 + length) break;
      replies.push(pending[4] === 0x03 ? BASELINE_ROWS : OK);
      pending = pending.subarray(4 + length);
    }
    // One write per read, as a server answers pipelined commands.
    if (replies.length > 0) socket.write(replies.length === 1 ? replies[0]! : Buffer.concat(replies));
  });
}

function greeting(id: number): Greeting {
  return {
    protocolVersion: 10,
    serverVersion: '11.0.0-fake',
    connectionId: id,
    scramble: Buffer.alloc(20),
    capabilities: CAPS,
    mariadbCapabilities: 0,
    charset: UTF8MB4_GENERAL_CI,
    statusFlags: 2,
    authPluginName: 'mysql_native_password',
  };
}

function fakeLogin(port: number): { login: BackendLogin; count: () => number } {
  let logins = 0;
  const login: BackendLogin = (key) =>
    new Promise((resolve, reject) => {
      const socket = connectBackendSocket('127.0.0.1', port);
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        socket.on('error', () => {});
        socket.pause();
        resolve({ addr: key.addr, socket, greeting: greeting(++logins), loginState: null });
      });
    });
  return { login, count: () => logins };
}

interface Row {
  name: string;
  usPerOp: number;
  bytesPerOp: number;
  logins: number;
}

async function measure(
  name: string,
  n: number,
  borrowers: number,
  max: number,
  reset: boolean,
  port: number,
): Promise<Row> {
  const pools: BackendPools = createBackendPools({
    maxPerCompute: max,
    idleTimeoutMs: 60_000,
    acquireTimeoutMs: 10_000,
    logger: pino({ level: 'silent' }),
  });
  const { login, count } = fakeLogin(port);
  const key: BackendKey = {
    addr: { host: '127.0.0.1', port, computeId: 'c-bench' },
    user: 'app',
    database: null,
    capabilities: CAPS,
    mariadbCapabilities: 0,
    charset: UTF8MB4_GENERAL_CI,
  };
  const signal = new AbortController().signal;
  const loop = async (iterations: number) => {
    for (let i = 0; i < iterations; i++) {
      // A fresh key object per borrow, as the proxy makes one ({ ...key, addr }).
      const b = await pools.acquire({ ...key, addr: { ...key.addr } }, login, signal);
      await pools.release(b, { dirty: false, reset });
    }
  };
  const run = (total: number) => Promise.all(Array.from({ length: borrowers }, () => loop(Math.ceil(total / borrowers))));
  await run(Math.min(n, 2_000)); // warm up, and open the connections
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const profiler = new GCProfiler();
  const { used_heap_size: before } = (await import('node:v8')).getHeapStatistics();
  profiler.start();
  const started = performance.now();
  await run(n);
  const elapsed = performance.now() - started;
  const { used_heap_size: after } = (await import('node:v8')).getHeapStatistics();
  const freed = profiler.stop().statistics.reduce(
    (sum, s) => sum + s.beforeGC.heapStatistics.usedHeapSize - s.afterGC.heapStatistics.usedHeapSize,
    0,
  );
  await pools.close();
  return { name, usPerOp: (elapsed * 1000) / n, bytesPerOp: (after - before + freed) / n, logins: count() };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { n: { type: 'string', default: '20000' } } });
  const n = Number(values.n);
  const server: Server = createServer(answer);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const rows: Row[] = [];
  for (let round = 0; round < 3; round++) {
    rows.push(await measure('no reset', n, 1, 4, false, port));
    rows.push(await measure('reset', Math.ceil(n / 4), 1, 4, true, port));
    rows.push(await measure('contended', n, 8, 4, false, port));
  }
  server.close();
  process.stdout.write('| case | µs per acquire+release | bytes allocated per acquire+release | logins |\n|---|---|---|---|\n');
  for (const name of ['no reset', 'reset', 'contended']) {
    const mine = rows.filter((r) => r.name === name).sort((a, b) => a.usPerOp - b.usPerOp);
    const best = mine[0]!;
    const median = mine[Math.floor(mine.length / 2)]!;
    process.stdout.write(
      `| ${name} | ${best.usPerOp.toFixed(2)} (median ${median.usPerOp.toFixed(2)}) | ${Math.round(median.bytesPerOp)} | ${best.logins} |\n`,
    );
  }
  process.exit(0);
}

await main();
