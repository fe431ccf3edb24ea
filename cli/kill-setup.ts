// Session ids and KILL for a running proxy: its instance number (claimed in Redis
// when the proxy has Redis, so proxies sharing it issue distinct ids), the other
// proxies (Redis publish/subscribe), and who stops the statement of a passthrough
// client that leaves mid-statement (the control plane's account; for a static
// backend, --accounts-user if it holds CONNECTION ADMIN).
import type { Logger } from 'pino';
import { DEFAULT_KEY_PREFIX } from '../activity/redis-activity-store.js';
import { openRedis, redisReady } from '../util/redis.js';
import { claimInstance, randomInstance, type InstanceClaim } from '../proxy/kill/instance-claim.js';
import { RedisKillPeers } from '../proxy/kill/redis-kill-peers.js';
import { stopperWithAccount } from '../proxy/kill/session-kill.js';
import type { KillOptions } from '../proxy/server.js';
import { createControlApiKill } from '../control-client/control-api-kill.js';
import { nativePasswordStage1 } from '../protocol/index.js';
import type { BackendTlsOptions } from '../backend/connect.js';

export interface KillSetupOptions {
  redisUrl?: string;
  controlUrl?: readonly string[];
  controlToken?: string;
  /** A static backend's accounts reader. */
  accounts?: { user: string; password: string };
  connectTimeoutMs: number;
  backendTls?: BackendTlsOptions;
  logger: Logger;
}

export interface KillSetup {
  options: KillOptions;
  /** Gives the instance number back (after the proxy has drained). */
  close(): Promise<void>;
}

/** How long a proxy waits for Redis at start before it picks a random instance number. */
const REDIS_READY_MS = 3_000;

export async function setUpKill(o: KillSetupOptions): Promise<KillSetup> {
  const redisUrl = o.redisUrl;
  const redis = redisUrl ? openRedis(redisUrl, { name: 'wake-proxy-instance', commandTimeoutMs: 2_000 }) : undefined;
  let claim: InstanceClaim = randomInstance();
  if (redis) {
    try {
      await redisReady(redis, REDIS_READY_MS);
      claim = await claimInstance(redis, { keyPrefix: DEFAULT_KEY_PREFIX, logger: o.logger });
    } catch (err) {
      o.logger.warn(
        { err: (err as Error).message, instance: claim.instance },
        'could not claim an instance number in Redis: using a random one (session ids may collide with another proxy\'s)',
      );
    }
  }
  o.logger.info({ instance: claim.instance, claimed: claim.claimed }, 'session ids use instance number');
  const stopPassthrough = o.controlUrl
    ? createControlApiKill({ url: o.controlUrl, ...(o.controlToken ? { token: o.controlToken } : {}) })
    : o.accounts
      ? stopperWithAccount(
          { user: o.accounts.user, stage1: nativePasswordStage1(o.accounts.password) },
          { timeoutMs: o.connectTimeoutMs, ...(o.backendTls ? { tls: o.backendTls } : {}) },
        )
      : undefined;
  return {
    options: {
      instance: claim.instance,
      ...(redisUrl ? { peers: (registry) => new RedisKillPeers({ url: redisUrl, keyPrefix: DEFAULT_KEY_PREFIX, registry, logger: o.logger }) } : {}),
      ...(stopPassthrough ? { stopPassthrough } : {}),
    },
    async close() {
      await claim.release();
      redis?.disconnect();
    },
  };
}
