// The proxy's side of the control API: wake a project and learn where its
// compute listens. One HTTP wake per project at a time; answers cached. With
// several control-plane URLs, a wake that gets no answer from one is tried on
// the next (control-urls.ts); while none answers, an address already learned
// keeps serving (address-cache.ts): an awake compute stays reachable through a
// control-plane outage, and nothing can suspend it meanwhile.
import { Agent, request } from 'undici';
import type { Logger } from 'pino';
import { AddressCache } from './address-cache.js';
import { ControlUrls } from './control-urls.js';
import { TokenBucket } from '../util/token-bucket.js';
import { ProjectNotFoundError, WakeError, type WakeFailure } from './errors.js';
import type { ComputeResolver } from './types.js';
import type { BackendAddress } from '../backend/address.js';

export interface ControlApiResolverOptions {
  /** Base URL of the control API, e.g. http://127.0.0.1:8080, or several (replicas). */
  url: string | readonly string[];
  token?: string;
  /** How long the control plane may take to bring a compute up. */
  wakeTimeoutMs: number;
  /** How long an awake compute's address is trusted without asking again. */
  cacheTtlMs: number;
  logger?: Logger;
  /** Wake calls per second per project (burst of the same size); beyond it clients get an error. */
  wakeRatePerProject?: number;
  /** Told the outcome and latency of every control API call (for metrics). */
  onCall?: (outcome: string, seconds: number) => void;
  /** How long past its TTL a learned address still serves while no control plane answers; default 10 minutes. */
  maxStaleMs?: number;
}

interface WakeAnswer {
  compute?: { id?: string; host?: string; port?: number };
  error?: { code?: string; message?: string };
}

export function createControlApiResolver(opts: ControlApiResolverOptions): ComputeResolver {
  const urls = new ControlUrls(opts.url);
  const agent = new Agent({ keepAliveTimeout: 10_000, connections: 32 });
  const cache = new AddressCache(opts.cacheTtlMs, {
    staleMs: opts.maxStaleMs ?? 600_000,
    // No control plane answered (or none could do its job): the compute, if it was awake, still is.
    serveStale: (err) => err instanceof WakeError && (err.reason === 'control_api_unreachable' || err.reason === 'control_api_error'),
  });
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;

  const wakeBuckets = new Map<string, TokenBucket>();

  function checkWakeRate(project: string): void {
    const rate = opts.wakeRatePerProject;
    if (!rate) return;
    let bucket = wakeBuckets.get(project);
    if (!bucket) {
      // Bounded: full buckets are dropped once the map grows large.
      if (wakeBuckets.size > 10_000) for (const [k, b] of wakeBuckets) if (b.full) wakeBuckets.delete(k);
      bucket = new TokenBucket(rate);
      wakeBuckets.set(project, bucket);
    }
    if (!bucket.take()) {
      throw new WakeError(project, 'rate_limited', `more than ${rate} wake requests per second`);
    }
  }

  async function wake(project: string): Promise<BackendAddress> {
    checkWakeRate(project);
    const started = performance.now();
    try {
      const addr = await callWake(project, started);
      opts.onCall?.('ok', (performance.now() - started) / 1000);
      return addr;
    } catch (err) {
      const outcome = err instanceof WakeError ? err.reason : 'not_found';
      opts.onCall?.(outcome, (performance.now() - started) / 1000);
      throw err;
    }
  }

  async function callWake(project: string, started: number): Promise<BackendAddress> {
    // A little slack over the control plane's own bound so its answer, not ours, wins.
    const signal = AbortSignal.timeout(opts.wakeTimeoutMs + 2_000);
    let status = 0;
    let answer: WakeAnswer = {};
    let unanswered: unknown;
    for (const base of urls.order()) {
      try {
        const res = await request(`${base}/api/v1/projects/${encodeURIComponent(project)}/wake`, {
          method: 'POST',
          headers,
          body: JSON.stringify({ timeoutMs: opts.wakeTimeoutMs }),
          dispatcher: agent,
          signal,
        });
        status = res.statusCode;
        answer = (await res.body.json().catch(() => ({}))) as WakeAnswer;
        urls.answered(base);
        unanswered = undefined;
        break;
      } catch (err) {
        if (signal.aborted) {
          throw new WakeError(project, 'timeout', `control API did not answer within ${opts.wakeTimeoutMs} ms`, { cause: err });
        }
        urls.failed(base);
        unanswered = err;
        opts.logger?.debug({ project, url: base, err: (err as Error).message }, 'control API gave no answer; trying the next URL');
      }
    }
    if (unanswered !== undefined) {
      throw new WakeError(project, 'control_api_unreachable', `control API unreachable${urls.tried()}: ${(unanswered as Error).message}`, { cause: unanswered });
    }
    if (status === 404) throw new ProjectNotFoundError(project);
    const c = answer.compute;
    if (status === 200 && c && typeof c.host === 'string' && typeof c.port === 'number') {
      opts.logger?.debug({ project, ms: Math.round(performance.now() - started) }, 'wake answered');
      return { host: c.host, port: c.port, ...(c.id ? { computeId: c.id } : {}) };
    }
    const reason: WakeFailure =
      status === 403 && answer.error?.code === 'quota_exceeded'
        ? 'quota_exceeded'
        : status === 504
          ? 'timeout'
          : status === 503
            ? 'start_failed'
            : 'control_api_error';
    const detail = answer.error?.message ?? `HTTP ${status}`;
    throw new WakeError(project, reason, detail);
  }

  return {
    resolve: (project, signal) => cache.get(project, signal, () => wake(project)),
    cached: (project) => cache.peek(project),
    invalidate: (project, addr) => cache.invalidate(project, addr),
    entries: () => cache.entries(),
    async close() {
      cache.clear();
      await agent.close();
    },
  };
}
