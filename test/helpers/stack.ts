// A whole wake-proxy on loopback for integration tests: a control plane with
// real mariadbd computes in a temporary directory, and a proxy on port 0.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { testLogger } from './logger.js';
import { request } from 'undici';
import { startControlPlane, type ControlPlane } from '../../control-plane/server.js';
import { createControlApiResolver } from '../../control-client/control-api-resolver.js';
import type { ComputeResolver } from '../../control-client/types.js';
import { startProxy, type ProxyOptions, type ProxyServer } from '../../proxy/server.js';

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
  createProject(name: string): Promise<ProjectCredentials>;
  api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
  compute(id: string): Promise<any>;
  suspend(computeId: string, tier?: 'freeze' | 'stop'): Promise<void>;
  close(): Promise<void>;
}

export interface StackOptions {
  proxy?: Partial<Omit<ProxyOptions, 'resolver' | 'logger'>>;
  cacheTtlMs?: number;
  wakeTimeoutMs?: number;
}

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const dataDir = await mkdtemp(join(tmpdir(), 'wake-proxy-test-'));
  const logger = testLogger();
  const wakeTimeoutMs = opts.wakeTimeoutMs ?? 20_000;
  const cp = await startControlPlane({ dataDir, port: 0, logger, wakeTimeoutMs });
  const resolver = createControlApiResolver({ url: cp.url, wakeTimeoutMs, cacheTtlMs: opts.cacheTtlMs ?? 5_000 });
  const proxy = await startProxy({
    host: '127.0.0.1',
    port: 0,
    resolver,
    logger,
    wakeTimeoutMs,
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
    async createProject(name) {
      const res = await api('POST', '/api/v1/projects', { name });
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
    async close() {
      await proxy.close();
      await resolver.close();
      await cp.close({ stopComputes: true });
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
