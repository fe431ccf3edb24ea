// A whole wake-proxy on loopback for integration tests: a control plane with
// real mariadbd computes in a temporary directory, and a proxy on port 0.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { testLogger } from './logger.js';
import { seedComputeTemplate } from './datadir-template.js';
import { request } from 'undici';
import { startControlPlane, type ControlPlane, type ControlPlaneOptions } from '../../control-plane/server.js';
import { createControlApiGreeting } from '../../control-client/control-api-greeting.js';
import { createControlApiResolver } from '../../control-client/control-api-resolver.js';
import type { ComputeResolver } from '../../control-client/types.js';
import { startProxy, type ProxyOptions, type ProxyServer } from '../../proxy/server.js';
import { MemoryActivityStore } from '../../activity/memory-activity-store.js';
import { RedisActivityStore } from '../../activity/redis-activity-store.js';
import type { ActivityStore } from '../../activity/activity-store.js';
import type { IdleOptions } from '../../control-plane/scale-to-zero.js';
import { ActivityReporter } from '../../proxy/activity-reporter.js';
import { createControlApiVerifiers } from '../../control-client/control-api-verifiers.js';
import { createBackendPools, defaultGrowDelayMs } from '../../pool/backend-pool.js';
import type { Pooling } from '../../proxy/session-context.js';
import type { ProberOptions } from '../../control-plane/compute-prober.js';

export interface ProjectCredentials {
  project: string;
  user: string;
  password: string;
  computeId: string;
}

export interface Stack {
  cp: ControlPlane;
  proxy: ProxyServer;
  resolver: ComputeResolver;
  dataDir: string;
  logger: Logger;
  /** Creates a project; `settings` are the API's (minCu, maxCu, quota). */
  createProject(name: string, settings?: Record<string, unknown>): Promise<ProjectCredentials>;
  api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
  compute(id: string): Promise<any>;
  suspend(computeId: string, tier?: 'freeze' | 'stop'): Promise<void>;
  /** Polls the compute until it is in `state`; throws after timeoutMs with the state it saw. */
  waitForState(computeId: string, state: string, timeoutMs: number): Promise<any>;
  /** With `activity`: the store shared by the proxy's reporter and the control plane. */
  store?: ActivityStore;
  reporter?: ActivityReporter;
  close(): Promise<void>;
}

export interface StackActivityOptions {
  /** A Redis URL, or the in-memory store shared in-process (as in dev mode). */
  redisUrl?: string;
  /** Default 200 ms. */
  reportIntervalMs?: number;
  /** Without it (or 0) the idle scheduler is off. */
  idleTimeoutMs?: number;
  /** Default 0: idle computes are stopped, not frozen. */
  coldTimeoutMs?: number;
  checkIntervalMs?: number;
}

export interface StackOptions {
  proxy?: Partial<Omit<ProxyOptions, 'resolver' | 'logger'>>;
  cacheTtlMs?: number;
  wakeTimeoutMs?: number;
  /** Where the proxy's resolver sends its wakes, given the control plane's URL (default: there). */
  resolverUrl?: (cpUrl: string) => string;
  activity?: StackActivityOptions;
  /** Default: silent unless TEST_LOG_LEVEL. */
  logger?: Logger;
  /** More control-plane options (autoscaling, quota checks). */
  controlPlane?: Partial<ControlPlaneOptions>;
  /** The control plane's health probes of active computes (default: its own). */
  probe?: ProberOptions;
  /** Proxy-verified authentication against the control plane's role verifiers. */
  verify?: {
    ttlMs: number;
    poolMode?: 'pipe' | 'session' | 'transaction';
    /** Pool limits; defaults 20 connections per compute and a 5 s acquire timeout. */
    poolMax?: number;
    poolAcquireTimeoutMs?: number;
    /** Default: the CLI's for the mode. */
    poolGrowDelayMs?: number;
    /** Transaction pooling: prepared statements kept per pooled connection (default 256). */
    poolMaxStatements?: number;
  };
}

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const dataDir = await mkdtemp(join(tmpdir(), 'wake-proxy-test-'));
  await seedComputeTemplate(dataDir);
  const logger = opts.logger ?? testLogger();
  const wakeTimeoutMs = opts.wakeTimeoutMs ?? 20_000;
  const a = opts.activity;
  const reportIntervalMs = a?.reportIntervalMs ?? 200;
  const store: ActivityStore | undefined = a
    ? a.redisUrl
      ? new RedisActivityStore({ url: a.redisUrl, commandTimeoutMs: 500 })
      : new MemoryActivityStore()
    : undefined;
  const idle: IdleOptions | undefined = a
    ? {
        idleTimeoutMs: a.idleTimeoutMs ?? 0,
        coldTimeoutMs: a.coldTimeoutMs ?? 0,
        reportIntervalMs,
        ...(a.checkIntervalMs ? { checkIntervalMs: a.checkIntervalMs } : {}),
      }
    : undefined;
  const cp = await startControlPlane({ dataDir, port: 0, logger, wakeTimeoutMs, ...(store ? { activity: store, idle } : {}), ...(opts.probe ? { probe: opts.probe } : {}), ...opts.controlPlane });
  const resolver = createControlApiResolver({ url: opts.resolverUrl?.(cp.url) ?? cp.url, wakeTimeoutMs, cacheTtlMs: opts.cacheTtlMs ?? 5_000 });
  const reporter = store ? new ActivityReporter({ store, intervalMs: reportIntervalMs, logger }) : undefined;
  const verifiers = opts.verify ? createControlApiVerifiers({ url: cp.url, ttlMs: opts.verify.ttlMs }) : undefined;
  const poolMode = opts.verify?.poolMode ?? 'pipe';
  const pooling: Pooling =
    poolMode === 'pipe'
      ? { mode: poolMode }
      : {
          mode: poolMode,
          pools: createBackendPools({
            maxPerCompute: opts.verify?.poolMax ?? 20,
            idleTimeoutMs: 30_000,
            acquireTimeoutMs: opts.verify?.poolAcquireTimeoutMs ?? 5_000,
            growDelayMs: opts.verify?.poolGrowDelayMs ?? defaultGrowDelayMs(poolMode),
            logger,
          }),
          ...(opts.verify?.poolMaxStatements ? { statementsPerConnection: opts.verify.poolMaxStatements } : {}),
        };
  const proxy = await startProxy({
    host: '127.0.0.1',
    port: 0,
    resolver,
    logger,
    wakeTimeoutMs,
    ...(verifiers ? { verifiers } : {}),
    pooling,
    ...(reporter ? { activity: reporter } : {}),
    // As `wake-proxy proxy --control-url` does.
    greetingFromControl: createControlApiGreeting({ url: cp.url }),
    ...opts.proxy,
  });

  async function api(method: string, path: string, body?: unknown) {
    const res = await request(`${cp.url}${path}`, {
      method: method as 'GET',
      headers: { 'content-type': 'application/json' },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.body.text();
    return { status: res.statusCode, body: text ? JSON.parse(text) : undefined };
  }

  return {
    cp,
    proxy,
    resolver,
    dataDir,
    logger,
    api,
    async createProject(name, settings = {}) {
      const res = await api('POST', '/api/v1/projects', { name, ...settings });
      if (res.status !== 201) throw new Error(`create ${name}: ${res.status} ${JSON.stringify(res.body)}`);
      return { project: name, user: res.body.user, password: res.body.password, computeId: res.body.compute.id };
    },
    async compute(id) {
      return (await api('GET', `/api/v1/compute/${id}`)).body;
    },
    async suspend(computeId, tier = 'stop') {
      const res = await api('POST', `/api/v1/compute/${computeId}/suspend`, { tier });
      if (res.status !== 200) throw new Error(`suspend ${computeId}: ${res.status} ${JSON.stringify(res.body)}`);
    },
    async waitForState(computeId, state, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const c = (await api('GET', `/api/v1/compute/${computeId}`)).body;
        if (c?.state === state) return c;
        if (Date.now() > deadline) throw new Error(`compute ${computeId} not ${state} within ${timeoutMs} ms (it is ${c?.state})`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    ...(store ? { store } : {}),
    ...(reporter ? { reporter } : {}),
    async close() {
      await proxy.close();
      await verifiers?.close();
      await reporter?.close();
      await resolver.close();
      await cp.close({ stopComputes: true });
      await store?.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
