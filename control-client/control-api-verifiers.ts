// The proxy's side of GET /api/v1/projects/{project}/roles?user={user}: the accounts a
// login by that name can match, so the proxy can judge a client before waking
// anything. Answers are cached for ttlMs, so a flood of bad logins costs one
// control-API call per (project, user) per ttl; a mismatch or an address no account
// admits asks again past the cache (refresh), and the control plane re-reads an awake
// compute for it.
//
//   200 {"user","candidates":[...],"policy":{...}}                   -> UserAccounts
//   404 {"error":{"code":"project_not_found"|"role_not_found"}}     -> no accounts
//   anything else                                                   -> RoleVerifierError
//
// Fail closed: an answer this file does not expect is an error, never a verdict, and
// the caller refuses the client for it. With several control-plane URLs, a call that
// gets no answer from one is tried on the next (control-urls.ts). When none can
// answer, the last answer for the pair is still used for up to maxStaleMs, so an
// outage of the control plane does not lock out the clients it already knew.
import { Agent, request } from 'undici';
import type { Logger } from 'pino';
import { DEFAULT_POLICY, type UserAccounts } from '../accounts/account.js';
import { parseUserAccounts, serverUserName } from '../accounts/user-accounts.js';
import { raceSignal } from '../util/abort.js';
import { ControlUrls } from './control-urls.js';
import { RoleVerifierError, type RoleVerifierClient } from './verifiers.js';

export interface ControlApiVerifierOptions {
  /** Base URL of the control API, e.g. http://127.0.0.1:8080, or several (replicas). */
  url: string | readonly string[];
  token?: string;
  /** How long an answer (positive or negative) is trusted. */
  ttlMs: number;
  logger?: Logger;
  /** Bound on one control-API call (to each URL tried). */
  timeoutMs?: number;
  /** Cached (project, user) pairs kept at most; the oldest go first. */
  maxEntries?: number;
  /** How long past its ttl an answer still stands in while the control API cannot answer. Default 10 minutes. */
  maxStaleMs?: number;
}

interface ErrorAnswer {
  error?: { code?: unknown; message?: unknown };
}

type RoleVerifier = UserAccounts;

interface Entry {
  value: RoleVerifier;
  storedAt: number;
}

const NOT_FOUND_CODES = new Set(['role_not_found', 'project_not_found']);

export function createControlApiVerifiers(opts: ControlApiVerifierOptions): RoleVerifierClient {
  const urls = new ControlUrls(opts.url);
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const maxEntries = opts.maxEntries ?? 10_000;
  const maxStaleMs = opts.maxStaleMs ?? 600_000;
  const agent = new Agent({ keepAliveTimeout: 10_000, connections: 16 });
  const headers: Record<string, string> = { accept: 'application/json' };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  const cache = new Map<string, Entry>();
  const inflight = new Map<string, { promise: Promise<RoleVerifier>; generation: number }>();
  // Bumped per key by invalidate(), so an answer fetched before it is not cached after it.
  const generations = new Map<string, number>();

  async function fetchRole(project: string, user: string, fresh = false): Promise<RoleVerifier> {
    const query = new URLSearchParams({ user });
    if (fresh) query.set('fresh', '1');
    const path = `/api/v1/projects/${encodeURIComponent(project)}/roles?${query}`;
    const about = `role '${user}' of project '${project}'`;
    let status = 0;
    let answer: unknown;
    let unanswered: unknown;
    for (const base of urls.order()) {
      try {
        const res = await request(`${base}${path}`, {
          method: 'GET',
          headers,
          dispatcher: agent,
          signal: AbortSignal.timeout(timeoutMs),
        });
        status = res.statusCode;
        answer = await res.body.json().catch(() => ({}));
        urls.answered(base);
        unanswered = undefined;
        break;
      } catch (err) {
        urls.failed(base);
        unanswered = err;
      }
    }
    if (unanswered !== undefined) {
      throw new RoleVerifierError(`control API did not answer for ${about}${urls.tried()}: ${(unanswered as Error).message}`, { cause: unanswered });
    }
    const error = (answer as ErrorAnswer | null)?.error;
    const code = typeof error?.code === 'string' ? error.code : undefined;
    // Only the two answers that mean "no such thing": any other 404 (a wrong route, a proxy in between) is no verdict.
    if (status === 404 && code !== undefined && NOT_FOUND_CODES.has(code)) return { user: serverUserName(user), candidates: [], policy: DEFAULT_POLICY };
    if (status !== 200) {
      throw new RoleVerifierError(`control API answered HTTP ${status}${code ? ` (${code})` : ''} for ${about}`);
    }
    try {
      // The server cuts names at 128 characters and drops surrounding quotes; so does the answer.
      return parseUserAccounts(answer, serverUserName(user));
    } catch (err) {
      // The message names the field, never a value.
      throw new RoleVerifierError(`control API sent a malformed answer for ${about}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** The answer kept for `key` if the control API failed and it is not too old; else the failure. */
  function staleOr(key: string, err: unknown): RoleVerifier {
    const kept = cache.get(key);
    if (!(err instanceof RoleVerifierError) || !kept || Date.now() - kept.storedAt > opts.ttlMs + maxStaleMs) throw err;
    opts.logger?.warn({ cause: err.message, ageMs: Date.now() - kept.storedAt }, 'control API unavailable; using the last role answer');
    return kept.value;
  }

  function remember(key: string, value: RoleVerifier): void {
    cache.delete(key);
    cache.set(key, { value, storedAt: Date.now() });
    while (cache.size > maxEntries) cache.delete(cache.keys().next().value!);
  }

  function fresh(key: string): RoleVerifier | undefined {
    const hit = cache.get(key);
    return hit && Date.now() - hit.storedAt < opts.ttlMs ? hit.value : undefined;
  }

  return {
    cached: (project, user) => fresh(`${project}\u0000${user}`),
    get(project, user, signal) {
      const key = `${project}\u0000${user}`;
      const hit = fresh(key);
      if (hit) return Promise.resolve(hit);
      let pending = inflight.get(key);
      if (!pending) {
        const generation = generations.get(key) ?? 0;
        const started = performance.now();
        const promise = fetchRole(project, user).then(
          (value) => {
            inflight.delete(key);
            if ((generations.get(key) ?? 0) === generation) remember(key, value);
            opts.logger?.debug(
              { project, user, accounts: value.candidates.length, ms: Math.round(performance.now() - started) },
              'role verifier fetched',
            );
            return value;
          },
          (err: unknown) => {
            inflight.delete(key);
            return staleOr(key, err);
          },
        );
        pending = { promise, generation };
        inflight.set(key, pending);
      }
      return raceSignal(pending.promise, signal);
    },
    async refresh(project, user, signal) {
      const key = `${project}\u0000${user}`;
      const fetched = fetchRole(project, user, true).then(
        (value) => (remember(key, value), value),
        (err: unknown) => staleOr(key, err),
      );
      return raceSignal(fetched, signal);
    },
    invalidate(project, user) {
      const key = `${project}\u0000${user}`;
      // Gone, not just expired: an answer the compute has contradicted is no fallback in an outage.
      cache.delete(key);
      generations.set(key, (generations.get(key) ?? 0) + 1);
      if (!inflight.has(key)) generations.delete(key);
    },
    async close() {
      cache.clear();
      await agent.close();
    },
  };
}
