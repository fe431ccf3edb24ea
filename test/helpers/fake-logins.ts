// The pool's own seams for unit tests: a login that opens a loopback socket pair instead
// of logging into mariadbd, and checks (baseline, reset, ping) whose answers a test sets.
// What the pool does with connections (lists, limits, waiters) is tested with these;
// the real login and checks are tested against mariadbd in test/integration/.
import { createServer, connect, type Server, type Socket } from 'node:net';
import { after, before } from 'node:test';
import type { Logger } from 'pino';
import type { BackendKey, BackendLogin } from '../../backend/login.js';
import type { HealthCheck } from '../../backend/health.js';
import { UTF8MB4_GENERAL_CI } from '../../protocol/constants.js';
import { createBackendPools, type BackendPoolOptions, type BackendPools, type PoolChecks } from '../../pool/backend-pool.js';
import { testLogger } from './logger.js';
import type { AbortWatch } from '../../util/abort.js';

/** A loopback server standing in for a compute: it accepts and keeps its ends of the pairs. */
export class FakeCompute {
  /** The compute's end of each connection, by the pool side's local port. */
  readonly ends = new Map<number, Socket>();
  /** The pool side's local ports whose compute end read a COM_QUIT (then closed, as mariadbd does). */
  readonly quits = new Set<number>();
  logins = 0;
  private server: Server | null = null;
  port = 0;

  static async start(): Promise<FakeCompute> {
    const c = new FakeCompute();
    c.server = createServer((s) => {
      s.on('error', () => {});
      const port = s.remotePort!;
      c.ends.set(port, s);
      s.on('data', (chunk: Buffer) => {
        if (chunk.includes(COM_QUIT_PACKET)) {
          c.quits.add(port);
          s.end();
        }
      });
    });
    await new Promise<void>((resolve) => c.server!.listen(0, '127.0.0.1', resolve));
    c.port = (c.server.address() as { port: number }).port;
    return c;
  }

  key(over: Partial<BackendKey> = {}): BackendKey {
    return {
      addr: { host: '127.0.0.1', port: this.port, computeId: 'c-fake' },
      user: 'app',
      database: null,
      capabilities: 0x200,
      mariadbCapabilities: 0,
      charset: UTF8MB4_GENERAL_CI,
      ...over,
    };
  }

  /**
   * A login that connects a socket pair, or fails with `fail`; `gate` holds it until
   * released. It gives up at once when its signal aborts, as loginBackend does.
   */
  login(opts: { fail?: Error; gate?: Promise<void> } = {}): BackendLogin & { calls: number } {
    const fn = (async (key, signal) => {
      fn.calls++;
      this.logins++;
      if (opts.gate) await Promise.race([opts.gate, aborted(signal)]);
      if (opts.fail) throw opts.fail;
      const socket = connect(this.port, '127.0.0.1');
      socket.on('error', () => {});
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
      socket.pause();
      while (!this.ends.has(socket.localPort!)) await new Promise((r) => setImmediate(r));
      return { addr: key.addr, socket, greeting: greeting(this.logins), loginState: null };
    }) as BackendLogin & { calls: number };
    fn.calls = 0;
    return fn;
  }

  /** The compute's end of a pooled connection. */
  endOf(socket: Socket): Socket {
    const end = this.ends.get(socket.localPort!);
    if (!end) throw new Error(`no compute end for local port ${socket.localPort}`);
    return end;
  }

  async stop(): Promise<void> {
    for (const s of this.ends.values()) s.destroy();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }
}

const COM_QUIT_PACKET = Buffer.from([1, 0, 0, 0, 1]);

/** Whether the pool has closed a connection: said COM_QUIT and ended it (or destroyed it). */
export function closedByPool(socket: Socket): boolean {
  return socket.writableEnded || socket.destroyed;
}

/** Checks whose answers the test sets; each call is counted. */
export class ScriptedChecks implements PoolChecks {
  resetAnswer: HealthCheck = { ok: true };
  pingAnswer: HealthCheck = { ok: true };
  baselineFailure: Error | null = null;
  resets = 0;
  pings = 0;
  /** Holds pings until resolved, when set. */
  pingGate: Promise<void> | null = null;

  async readBaseline() {
    if (this.baselineFailure) throw this.baselineFailure;
    return { database: null, role: null };
  }

  async reset(): Promise<HealthCheck> {
    this.resets++;
    return this.resetAnswer;
  }

  async ping(): Promise<HealthCheck> {
    this.pings++;
    if (this.pingGate) await this.pingGate;
    return this.pingAnswer;
  }
}

export function fakePools(checks: PoolChecks, over: Partial<BackendPoolOptions> = {}, logger: Logger = testLogger()): BackendPools {
  return createBackendPools({
    maxPerCompute: 2,
    idleTimeoutMs: 60_000,
    acquireTimeoutMs: 2_000,
    logger,
    checks,
    ...over,
  });
}

/**
 * A test file's fake compute and pools: the compute starts before the file's tests and
 * stops after them, and every pool made with `pools()` is closed before it.
 */
export function fakeComputeSuite(): { readonly compute: FakeCompute; pools: typeof fakePools } {
  let started: FakeCompute | undefined;
  const made: BackendPools[] = [];
  before(async () => {
    started = await FakeCompute.start();
  });
  after(async () => {
    await Promise.all(made.map((p) => p.close()));
    await started?.stop();
  });
  return {
    get compute() {
      if (!started) throw new Error('the fake compute starts before the tests');
      return started;
    },
    pools(...args) {
      const p = fakePools(...args);
      made.push(p);
      return p;
    },
  };
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Lets pending promise callbacks and I/O callbacks run. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function aborted(signal: AbortWatch): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(new Error('login abandoned'));
    signal.addEventListener('abort', () => reject(new Error('login abandoned')), { once: true });
  });
}

function greeting(connectionId: number) {
  return {
    protocolVersion: 10,
    serverVersion: 'fake',
    connectionId,
    scramble: Buffer.alloc(20),
    capabilities: 0x200,
    mariadbCapabilities: 0,
    charset: UTF8MB4_GENERAL_CI,
    statusFlags: 2,
    authPluginName: 'mysql_native_password',
  };
}
