// One wake in flight per project however many clients wait, and the answer
// kept for a while so the next connects skip the round trip. Optionally, when
// a fetch fails in a way `serveStale` accepts (no control plane answers), an
// expired answer still serves for up to `staleMs`, and the fetch is retried at
// most once a second meanwhile; a failed connect drops it like any other.
import type { BackendAddress } from '../backend/address.js';
import { raceSignal } from '../util/abort.js';
import type { ResolverEntry } from './types.js';

interface CacheEntry {
  addr: BackendAddress;
  expiresAt: number;
  /** When the fetch that gave it answered. */
  answeredAt: number;
}

export interface AddressCacheOptions {
  staleMs?: number;
  serveStale?: (err: unknown) => boolean;
}

/** While serving stale, ask again at most this often. */
const STALE_RETRY_MS = 1_000;

export class AddressCache {
  private readonly addresses = new Map<string, CacheEntry>();
  private readonly inflight = new Map<string, { pending: Promise<BackendAddress>; since: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly o: AddressCacheOptions = {},
  ) {}

  /** The address get() would hand back at once, if it holds a fresh one. */
  peek(key: string): BackendAddress | undefined {
    const hit = this.addresses.get(key);
    return hit && hit.expiresAt > Date.now() ? hit.addr : undefined;
  }

  /**
   * The cached address, or the one being fetched, or a new fetch. Each caller
   * gives up on its own signal; the shared fetch runs on regardless, bounded by
   * its own timeout, so one impatient client cannot fail the others.
   */
  get(key: string, signal: AbortSignal, fetch: () => Promise<BackendAddress>): Promise<BackendAddress> {
    const hit = this.addresses.get(key);
    if (hit && hit.expiresAt > Date.now()) return Promise.resolve(hit.addr);
    let pending = this.inflight.get(key)?.pending;
    if (!pending) {
      pending = fetch().then(
        (addr) => {
          this.inflight.delete(key);
          const now = Date.now();
          this.addresses.set(key, { addr, expiresAt: now + this.ttlMs, answeredAt: now });
          return addr;
        },
        (err: unknown) => {
          this.inflight.delete(key);
          const stale = this.addresses.get(key);
          const now = Date.now();
          if (!stale || !this.o.serveStale?.(err) || now - stale.answeredAt > this.ttlMs + (this.o.staleMs ?? 0)) throw err;
          stale.expiresAt = now + Math.min(Math.max(this.ttlMs, 1), STALE_RETRY_MS);
          return stale.addr;
        },
      );
      this.inflight.set(key, { pending, since: Date.now() });
    }
    return raceSignal(pending, signal);
  }

  /** Every key with an address kept or a fetch in flight (for a person asking). */
  entries(): ResolverEntry[] {
    const out = new Map<string, ResolverEntry>();
    for (const [project, e] of this.addresses) out.set(project, { project, addr: e.addr, answeredAt: e.answeredAt });
    for (const [project, f] of this.inflight) out.set(project, { ...out.get(project), project, wakingSince: f.since });
    return [...out.values()];
  }

  /** Whether a fresh cached address exists (a connect failure then merits one more wake). */
  has(key: string): boolean {
    return this.peek(key) !== undefined;
  }

  invalidate(key: string, addr?: BackendAddress): void {
    const hit = this.addresses.get(key);
    if (!hit) return;
    if (addr && (hit.addr.host !== addr.host || hit.addr.port !== addr.port)) return;
    this.addresses.delete(key);
  }

  clear(): void {
    this.addresses.clear();
  }
}
