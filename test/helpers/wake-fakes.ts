// Fakes for the session's wake step (`wakeAndConnect`), in the spirit of a
// scripted connect mechanism: a control plane whose wake answers come from a
// script, a resolver built on the real AddressCache over it (as the control API
// resolver is), an opener whose connects come from a script, and a context
// with real limits and metrics. Everything records what it was asked, so a
// test reads as "wake, connect fails, invalidate, wake, connect".
import { Registry } from 'prom-client';
import type { BackendAddress } from '../../backend/address.js';
import { AddressCache } from '../../control-client/address-cache.js';
import type { ComputeResolver } from '../../control-client/types.js';
import { ProjectLimits, type LimitsConfig } from '../../proxy/limits.js';
import { createProxyMetrics, type ProxyMetrics } from '../../proxy/metrics.js';
import type { Route } from '../../proxy/routing.js';
import type { Opener, WakeContext } from '../../proxy/wake-and-connect.js';
import { SessionAbort } from '../../proxy/session-context.js';
import type { AbortWatch } from '../../util/abort.js';

export { later, type Later } from './later.js';

/** A wake that never answers: only the caller's signal (client gone, wake bound) ends the wait. */
export const NEVER: Promise<never> = new Promise<never>(() => {});

/** One answer of the fake control plane: an address, a failure, or an answer still to come. */
export type WakeAnswer = BackendAddress | Error | Promise<BackendAddress>;

/**
 * The control plane's wake, scripted one answer per call. A call past the end
 * of the script fails the test loudly instead of inventing an answer.
 */
export class ScriptedControlPlane {
  /** The project of each wake call, in order. */
  readonly wakes: string[] = [];
  private readonly script: WakeAnswer[];

  constructor(...script: WakeAnswer[]) {
    this.script = script;
  }

  wake(project: string): Promise<BackendAddress> {
    this.wakes.push(project);
    const answer = this.script.shift();
    if (answer === undefined) return Promise.reject(new Error(`unscripted wake #${this.wakes.length} of '${project}'`));
    if (answer instanceof Error) return Promise.reject(answer);
    return Promise.resolve(answer);
  }
}

/** A resolver as the control API's is made: the real address cache in front of a (scripted) wake. */
export class FakeResolver implements ComputeResolver {
  readonly cache: AddressCache;
  /** Every invalidate call, in order. */
  readonly invalidated: Array<{ project: string; addr: BackendAddress }> = [];

  constructor(
    readonly controlPlane: ScriptedControlPlane,
    cacheTtlMs = 60_000,
  ) {
    this.cache = new AddressCache(cacheTtlMs);
  }

  resolve(project: string, signal: AbortSignal): Promise<BackendAddress> {
    return this.cache.get(project, signal, () => this.controlPlane.wake(project));
  }

  invalidate(project: string, addr: BackendAddress): void {
    this.invalidated.push({ project, addr });
    this.cache.invalidate(project, addr);
  }

  close(): Promise<void> {
    this.cache.clear();
    return Promise.resolve();
  }
}

/** The compute answered the connect (refused, denied): final, waking again would not help. */
export class ComputeRefusedError extends Error {
  override readonly name = 'ComputeRefusedError';
}

/**
 * What one connect does: succeed, fail as an unreachable compute would
 * (retryable), fail as a compute that answered would (final), or wait until
 * the caller's signal aborts and then fail as an aborted connect does.
 */
export type ConnectOutcome = 'ok' | 'unreachable' | 'refused' | 'hang';

export interface FakeConnection {
  addr: BackendAddress;
}

export class ScriptedOpener implements Opener<FakeConnection> {
  /** The address of each connect, in order. */
  readonly opened: BackendAddress[] = [];
  /** The addresses onRetry was told about. */
  readonly retried: BackendAddress[] = [];
  private readonly script: ConnectOutcome[];

  constructor(...script: ConnectOutcome[]) {
    this.script = script;
  }

  open(addr: BackendAddress, signal: AbortWatch): Promise<FakeConnection> {
    this.opened.push(addr);
    const outcome = this.script.shift();
    switch (outcome) {
      case 'ok':
        return Promise.resolve({ addr });
      case 'unreachable':
        return Promise.reject(new Error(`connect ECONNREFUSED ${addr.host}:${addr.port}`));
      case 'refused':
        return Promise.reject(new ComputeRefusedError(`compute ${addr.host}:${addr.port} refused the login`));
      case 'hang':
        return new Promise((_, reject) => {
          const fail = () => reject(new Error('client went away', { cause: signal.reason }));
          if (signal.aborted) fail();
          else signal.addEventListener('abort', fail, { once: true });
        });
      case undefined:
        return Promise.reject(new Error(`unscripted connect #${this.opened.length} to ${addr.host}:${addr.port}`));
    }
  }

  isFinal(err: unknown): boolean {
    return err instanceof ComputeRefusedError;
  }

  onRetry(addr: BackendAddress): void {
    this.retried.push(addr);
  }
}

export interface LogLine {
  level: 'warn';
  obj: Record<string, unknown>;
  msg: string;
}

/** A session's side of the wake step, with real limits and metrics and a log that keeps its lines. */
export interface FakeWakeContext extends WakeContext {
  cfg: WakeContext['cfg'] & { resolver: FakeResolver; limits: ProjectLimits; metrics: ProxyMetrics };
  abort: SessionAbort;
  lines: LogLine[];
}

export interface FakeWakeOptions {
  wakeTimeoutMs?: number;
  limits?: LimitsConfig;
  /** Share one proxy's limits and metrics between several sessions. */
  shared?: { limits: ProjectLimits; metrics: ProxyMetrics };
}

export function fakeWakeContext(resolver: FakeResolver, opts: FakeWakeOptions = {}): FakeWakeContext {
  const lines: LogLine[] = [];
  return {
    cfg: {
      resolver,
      wakeTimeoutMs: opts.wakeTimeoutMs ?? 30_000,
      limits: opts.shared?.limits ?? new ProjectLimits(opts.limits ?? {}),
      metrics: opts.shared?.metrics ?? createProxyMetrics(new Registry()),
    },
    log: { warn: (obj, msg) => void lines.push({ level: 'warn', obj, msg }) },
    abort: new SessionAbort(),
    clientAddress: '192.0.2.7',
    state: 'handshake',
    stateSince: performance.now(),
    lines,
  };
}

export function route(project: string, backendUser = 'app'): Route {
  return { project, backendUser, database: null };
}

/** wakeproxy_wake_requests_total by outcome label. */
export async function wakeOutcomes(metrics: ProxyMetrics): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const v of (await metrics.wakeRequests.get()).values) out[String(v.labels.outcome)] = v.value;
  return out;
}

/** wakeproxy_clients_waiting_for_wake now. */
export async function clientsWaiting(metrics: ProxyMetrics): Promise<number> {
  return (await metrics.clientsWaiting.get()).values[0]?.value ?? 0;
}

/** How many observations a connect phase histogram has. */
export async function phaseCount(metrics: ProxyMetrics, phase: string): Promise<number> {
  const count = (await metrics.connectPhase.get()).values.find(
    (v) => v.labels.phase === phase && (v as { metricName?: string }).metricName?.endsWith('_count'),
  );
  return count?.value ?? 0;
}

/** Let pending promise callbacks run (real I/O queue, so it works under mocked timers too). */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export const ADDR_A: BackendAddress = { host: '10.0.0.1', port: 3306, computeId: 'shop-c1' };
export const ADDR_B: BackendAddress = { host: '10.0.0.2', port: 3306, computeId: 'shop-c2' };
