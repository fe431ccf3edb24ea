// A compute that stops answering while its process lives and its address and pooled
// connections are fresh (stopped with SIGSTOP outside the control plane): a new
// client gets an error within the connect timeout plus a few seconds, never an
// unbounded wait; the control plane reports the compute failed and restarts it.
//
// What made the transaction-mode client wait 150 s and more: its login
// borrowed a pooled connection idle for less than the 10 s after which one was
// pinged, so no round trip reached the compute; the relay gave it straight back, and
// the first statement borrowed it again, idle 0 ms; and a statement has no deadline.
// Now a connection idle for over a second is pinged (2 s bound) before it is lent,
// and a ping that gets no answer fails the borrow, so the session wakes again and
// meets a compute that does not greet: 1429.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { startStack, type ProjectCredentials, type Stack } from '../helpers/stack.js';
import { processState } from '../../control-plane/drivers/process-table.js';

/** Short, so that waiting it out (twice in transaction mode) costs the suite little; an awake local compute greets in milliseconds. */
const CONNECT_TIMEOUT_MS = 1_500;
/** "A few seconds": a ping (2 s) and a greeting that never comes (2 s), with room for a loaded machine. */
const SLACK_MS = 4_000;

async function computePid(stack: Stack, computeId: string): Promise<number> {
  const run = JSON.parse(await readFile(join(stack.dataDir, 'computes', computeId, 'run.json'), 'utf8')) as { pid: number };
  return run.pid;
}

/**
 * SIGSTOP, and wait until the kernel has stopped every thread: a thread on a CPU could
 * still answer a ping sent a moment after the signal, and the statement borrowed right
 * after it (no ping: the connection was used a moment ago) would then wait, as it
 * would for any compute that hangs in the middle of a statement.
 */
async function freeze(pid: number): Promise<void> {
  process.kill(pid, 'SIGSTOP');
  while ((await processState(pid)) !== 'T') await new Promise((r) => setTimeout(r, 5));
}

function connect(stack: Stack, p: ProjectCredentials): Promise<mysql.Connection> {
  return mysql.createConnection({ host: '127.0.0.1', port: stack.proxy.port, user: `shop.${p.user}`, password: p.password, connectTimeout: 60_000 });
}

/** How long a new client's connect and first statement take to end, and how they end. */
async function newClientStatement(stack: Stack, p: ProjectCredentials): Promise<{ ms: number; outcome: string }> {
  const started = performance.now();
  let outcome: string;
  try {
    const c = await connect(stack, p);
    await c.query('SELECT 1');
    outcome = 'ok';
    await c.end();
  } catch (err) {
    outcome = `error ${(err as { errno?: number }).errno}: ${(err as Error).message}`;
  }
  return { ms: Math.round(performance.now() - started), outcome };
}

for (const mode of ['pipe', 'transaction'] as const) {
  describe(`a compute frozen outside the control plane (${mode} mode, no health probes)`, () => {
    let stack: Stack;
    let p: ProjectCredentials;
    let pid: number;
    before(async () => {
      stack = await startStack({ verify: { ttlMs: 30_000, poolMode: mode }, probe: { intervalMs: 0 }, proxy: { connectTimeoutMs: CONNECT_TIMEOUT_MS } });
      p = await stack.createProject('shop');
      pid = await computePid(stack, p.computeId);
    });
    after(async () => {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // gone already
      }
      await stack?.close();
    });

    test('a new client gets 1429 within the connect timeout plus a few seconds, and is served once the compute answers', async () => {
      // Warm pooled connections and a cached address, as a busy compute has.
      const warm = await Promise.all([connect(stack, p), connect(stack, p)]);
      await Promise.all(warm.map((c) => c.query('SELECT 1')));
      const idle = await connect(stack, p);
      await new Promise((r) => setTimeout(r, 1_200));
      await freeze(pid);
      const r = await newClientStatement(stack, p);
      assert.match(r.outcome, /^error 1429/, r.outcome);
      assert.ok(r.ms < CONNECT_TIMEOUT_MS + SLACK_MS, `answered after ${r.ms} ms: ${r.outcome}`);
      if (mode === 'transaction') {
        // A connected client holding no compute connection: its next statement is bounded too, and it stays connected.
        const started = performance.now();
        await assert.rejects(idle.query('SELECT 2'), (e: any) => e.errno === 1429);
        assert.ok(performance.now() - started < CONNECT_TIMEOUT_MS + SLACK_MS);
      }
      process.kill(pid, 'SIGCONT');
      const again = await newClientStatement(stack, p);
      assert.equal(again.outcome, 'ok');
      if (mode === 'transaction') assert.equal(((await idle.query('SELECT 3 AS v')) as any)[0][0].v, 3);
      for (const c of [...warm, idle]) c.destroy();
    });
  });
}

describe('the control plane probes its active computes', () => {
  let stack: Stack;
  let p: ProjectCredentials;
  let pid: number;
  before(async () => {
    stack = await startStack({ verify: { ttlMs: 30_000, poolMode: 'transaction' }, probe: { intervalMs: 300, timeoutMs: 1_000 }, proxy: { connectTimeoutMs: CONNECT_TIMEOUT_MS } });
    p = await stack.createProject('shop');
    pid = await computePid(stack, p.computeId);
  });
  after(async () => {
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      // restarted: that process is gone
    }
    await stack?.close();
  });

  test('one that does not answer is reported failed, restarted, and serves again', async () => {
    const before = await stack.compute(p.computeId);
    await freeze(pid);
    const seen: string[] = [];
    const deadline = Date.now() + 30_000;
    let failure: string | undefined;
    for (;;) {
      const c = await stack.compute(p.computeId);
      if (seen.at(-1) !== c.state) seen.push(c.state);
      if (c.state === 'failed') failure ??= c.lastError;
      if (c.state === 'active' && seen.includes('failed')) break;
      if (Date.now() > deadline) throw new Error(`states seen: ${seen.join(' -> ')}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.deepEqual(seen.slice(0, 2), ['active', 'failed'], seen.join(' -> '));
    assert.match(failure ?? '', /did not answer within 1000 ms/);
    const after = await stack.compute(p.computeId);
    assert.ok(after.resumeCount > before.resumeCount, 'started again');
    assert.notEqual(await computePid(stack, p.computeId), pid, 'a new process');
    const r = await newClientStatement(stack, p);
    assert.equal(r.outcome, 'ok');
  });
});
