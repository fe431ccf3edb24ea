// The activity store on Redis, shared by every proxy and the control plane.
// The key layout is a contract other systems read: docs/activity-keys.md.
//
// A proxy's write is one MULTI per interval (its clients hash replaced whole,
// its last-activity times max-merged, its usage buckets overwritten), so a
// reader never sees half a report and a repeated write changes nothing. The
// client never queues commands while disconnected: a proxy must not pile up
// reports (or memory) while Redis is away; the next interval sends everything.
import type { Redis } from 'ioredis';
import { openRedis } from '../util/redis.js';
import {
  USAGE_BUCKET_MS,
  USAGE_RETENTION_MS,
  type ActivityReport,
  type ActivitySnapshot,
  type ActivityStore,
  type UsageTotals,
} from './activity-store.js';

export const DEFAULT_KEY_PREFIX = 'wakeproxy:v1:';
/** A proxy id that has not reported for this long is dropped from the registry. */
const REGISTRY_STALE_MS = 3_600_000;

export interface RedisActivityStoreOptions {
  url: string;
  keyPrefix?: string;
  /** Bound on one write or read; default 2000 ms. */
  commandTimeoutMs?: number;
}

type Pipe = ReturnType<Redis['pipeline']>;

export class RedisActivityStore implements ActivityStore {
  readonly kind = 'redis';
  private readonly redis: Redis;
  private readonly keys: ReturnType<typeof keys>;

  constructor(opts: RedisActivityStoreOptions) {
    this.keys = keys(opts.keyPrefix ?? DEFAULT_KEY_PREFIX);
    this.redis = openRedis(opts.url, { name: 'wake-proxy-activity', commandTimeoutMs: opts.commandTimeoutMs ?? 2_000 });
  }

  async write(r: ActivityReport): Promise<void> {
    const k = this.keys;
    const tx = this.redis.multi();
    const proxyKey = k.proxy(r.proxyId);
    const fields: (string | number)[] = ['at', r.at];
    for (const [project, n] of r.clients) if (n > 0) fields.push(`c:${project}`, n);
    tx.del(proxyKey).hset(proxyKey, ...fields).pexpire(proxyKey, r.ttlMs);
    tx.zadd(k.proxies, r.at, r.proxyId).zremrangebyscore(k.proxies, '-inf', r.at - REGISTRY_STALE_MS);
    if (r.lastActive.size > 0) {
      const scored: (string | number)[] = [];
      for (const [project, at] of r.lastActive) scored.push(at, project);
      // GT: a slower proxy's older time never moves the shared one back.
      tx.zadd(k.lastActive, 'GT', ...scored);
    }
    const oldest = r.at - USAGE_RETENTION_MS;
    const indexes = new Set<string>();
    for (const u of r.usage) {
      const bucket = k.usage(u.project, u.bucketStart);
      tx.hset(bucket, `${r.proxyId}:in`, u.bytesIn, `${r.proxyId}:out`, u.bytesOut, `${r.proxyId}:conn_ms`, u.connectionMs);
      tx.pexpire(bucket, USAGE_RETENTION_MS);
      tx.zadd(k.usageIndex(u.project), u.bucketStart, String(u.bucketStart));
      indexes.add(k.usageIndex(u.project));
    }
    for (const index of indexes) tx.zremrangebyscore(index, '-inf', `(${oldest}`).pexpire(index, USAGE_RETENTION_MS);
    await run(tx, 'write activity report');
  }

  async readActivity(projects: string[]): Promise<ActivitySnapshot> {
    const k = this.keys;
    const first = this.redis.pipeline();
    // The first reader after a restart or flush stamps the new epoch.
    first.set(k.epoch, String(Date.now()), 'NX').get(k.epoch).zrange(k.proxies, '0', '-1');
    if (projects.length > 0) first.zmscore(k.lastActive, ...projects);
    const [, epochText, proxyIds, scores] = await run(first, 'read activity');
    const lastActive = new Map<string, number>();
    (scores as (string | null)[] | undefined)?.forEach((s, i) => {
      if (s !== null) lastActive.set(projects[i]!, Number(s));
    });

    const clients = new Map<string, number>();
    const ids = proxyIds as string[];
    if (ids.length > 0) {
      const second = this.redis.pipeline();
      for (const id of ids) second.hgetall(k.proxy(id));
      const wanted = new Set(projects);
      // An expired proxy key reads as an empty hash: its clients count no more.
      for (const hash of (await run(second, 'read proxy reports')) as Record<string, string>[]) {
        for (const [field, value] of Object.entries(hash)) {
          const project = field.startsWith('c:') ? field.slice(2) : undefined;
          if (project !== undefined && wanted.has(project)) clients.set(project, (clients.get(project) ?? 0) + Number(value));
        }
      }
    }
    return { clients, lastActive, epochStartedAt: Number(epochText) };
  }

  async readUsage(project: string, fromMs: number, toMs: number): Promise<UsageTotals> {
    // Every minute bucket that overlaps the range: it starts before `to` and ends after `from`.
    const starts = await this.redis.zrangebyscore(this.keys.usageIndex(project), `(${fromMs - USAGE_BUCKET_MS}`, `(${toMs}`);
    const totals = { bytesIn: 0, bytesOut: 0, connectionSeconds: 0 };
    if (starts.length === 0) return totals;
    const p = this.redis.pipeline();
    for (const s of starts) p.hgetall(this.keys.usage(project, Number(s)));
    for (const hash of (await run(p, 'read usage')) as Record<string, string>[]) {
      for (const [field, value] of Object.entries(hash)) {
        const what = field.slice(field.lastIndexOf(':') + 1);
        if (what === 'in') totals.bytesIn += Number(value);
        else if (what === 'out') totals.bytesOut += Number(value);
        else if (what === 'conn_ms') totals.connectionSeconds += Number(value) / 1000;
      }
    }
    return totals;
  }

  async close(): Promise<void> {
    // QUIT lets pending replies arrive; a Redis that is away gets no say.
    const quit = this.redis.status === 'ready' ? this.redis.quit().catch(() => undefined) : Promise.resolve();
    await Promise.race([quit, new Promise((r) => setTimeout(r, 1_000).unref())]);
    this.redis.disconnect();
  }
}

function keys(prefix: string) {
  return {
    proxy: (proxyId: string) => `${prefix}proxy:${proxyId}`,
    proxies: `${prefix}proxies`,
    lastActive: `${prefix}last-active`,
    usage: (project: string, bucketStart: number) => `${prefix}usage:${project}:${bucketStart}`,
    usageIndex: (project: string) => `${prefix}usage-buckets:${project}`,
    epoch: `${prefix}epoch`,
  };
}

/** Runs a pipeline or MULTI; the first failed command rejects the whole call, with what was being done. */
async function run(p: Pipe, what: string): Promise<unknown[]> {
  let results: [Error | null, unknown][] | null;
  try {
    results = await p.exec();
  } catch (err) {
    throw new Error(`activity store: could not ${what}: ${(err as Error).message}`, { cause: err });
  }
  if (!results) throw new Error(`activity store: could not ${what}: transaction aborted`);
  const failed = results.find(([err]) => err);
  if (failed) throw new Error(`activity store: could not ${what}: ${failed[0]!.message}`, { cause: failed[0] });
  return results.map(([, value]) => value);
}
