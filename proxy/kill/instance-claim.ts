// The instance number in this proxy's session ids (session-ids.ts). With Redis,
// proxies claim distinct numbers: a key per number, set if absent with a TTL,
// renewed while the proxy runs and deleted when it stops, so a crashed proxy's
// number comes free after the TTL. Without Redis a proxy picks one at random:
// nothing routes KILLs between proxies then, and two proxies in front of the same
// computes share a number with a chance of 1 in 1024 (their ids may then collide;
// the README says so).
import { randomBytes, randomInt } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { MAX_INSTANCE } from './session-ids.js';

export interface InstanceClaim {
  readonly instance: number;
  /** Claimed in Redis (unique among the proxies sharing it), or picked at random. */
  readonly claimed: boolean;
  /** Stop renewing and give the number back. */
  release(): Promise<void>;
}

export interface ClaimOptions {
  keyPrefix: string;
  logger: Logger;
  /** How long a claim lives without renewal; default 30 s (renewed every third of it). */
  ttlMs?: number;
}

export function randomInstance(): InstanceClaim {
  return { instance: randomInt(MAX_INSTANCE + 1), claimed: false, release: async () => {} };
}

// Renew the claim if it is still ours; take it again if it lapsed (Redis restarted);
// 0 when another proxy holds it now.
const RENEW = `
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if not v then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 2 end
return 0`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/** The first free number from a random start; throws when Redis cannot be asked or all are taken. */
export async function claimInstance(redis: Redis, o: ClaimOptions): Promise<InstanceClaim> {
  const ttlMs = o.ttlMs ?? 30_000;
  const token = randomBytes(12).toString('base64url');
  const start = randomInt(MAX_INSTANCE + 1);
  let instance = -1;
  for (let i = 0; i <= MAX_INSTANCE && instance < 0; i++) {
    const n = (start + i) % (MAX_INSTANCE + 1);
    if ((await redis.set(`${o.keyPrefix}instance:${n}`, token, 'PX', ttlMs, 'NX')) === 'OK') instance = n;
  }
  if (instance < 0) throw new Error(`all ${MAX_INSTANCE + 1} proxy instance numbers are claimed in Redis`);
  const key = `${o.keyPrefix}instance:${instance}`;
  let lost = false;
  const timer = setInterval(() => {
    redis.eval(RENEW, 1, key, token, ttlMs).then(
      (r) => {
        if (r === 0 && !lost) o.logger.error({ instance }, 'another proxy holds this proxy\'s instance number: session ids may collide');
        lost = r === 0;
      },
      (err: unknown) => o.logger.debug({ err: (err as Error).message }, 'could not renew the instance number claim'),
    );
  }, Math.max(100, Math.floor(ttlMs / 3)));
  timer.unref();
  return {
    instance,
    claimed: true,
    async release() {
      clearInterval(timer);
      await redis.eval(RELEASE, 1, key, token).catch(() => undefined);
    },
  };
}
