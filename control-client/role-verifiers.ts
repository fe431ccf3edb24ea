// The proxy's side of GET /api/v1/projects/{project}/roles/{user}: the
// mysql_native_password verifier of a project's user, so the proxy can check a client
// before waking anything. Answers are cached for ttlMs, wrong ones too, so a flood of
// bad logins costs one control-API call per (project, user) per ttl; a changed
// password takes effect within ttlMs (or at once after invalidate()).
//
//   200 {"user":"app","plugin":"mysql_native_password","verifier":"*HEX"}  -> Buffer
//   200 with another plugin (ed25519, unix_socket, ...)                    -> 'unknown'
//   404 {"error":{"code":"role_not_found"|"project_not_found"}}            -> null
//   anything else                                                          -> RoleVerifierError (not cached)
import { Agent, request } from 'undici';
import type { Logger } from 'pino';
import { NATIVE_PASSWORD_PLUGIN, parseNativeVerifier } from '../protocol/index.js';
import { raceSignal } from './single-flight.js';

export interface RoleVerifierClientOptions {
  /** Base URL of the control API, e.g. http://127.0.0.1:8080 */
  url: string;
  token?: string;
  /** How long an answer (positive or negative) is trusted. */
  ttlMs: number;
  logger?: Logger;
  /** Bound on one control-API call. */
  timeoutMs?: number;
  /** Cached (project, user) pairs kept at most; the oldest go first. */
  maxEntries?: number;
}

/** A verifier; null: no such user or project (answer as a wrong password); 'unknown': not verifiable here. */
export type RoleVerifier = Buffer | null | 'unknown';

export interface RoleVerifierClient {
  get(project: string, user: string, signal: AbortSignal): Promise<RoleVerifier>;
  /**
   * Ask past the cache, and have the control plane re-read an awake compute: for a
   * password that did not match, in case it changed. Replaces the cached answer.
   */
  refresh(project: string, user: string, signal: AbortSignal): Promise<RoleVerifier>;
  /** Forget the answer for (project, user), e.g. after the compute refused a login made with it. */
  invalidate(project: string, user: string): void;
  close(): Promise<void>;
}

export class RoleVerifierError extends Error {
  override readonly name = 'RoleVerifierError';
}

interface RoleAnswer {
  user?: unknown;
  plugin?: unknown;
  verifier?: unknown;
  error?: { code?: unknown; message?: unknown };
}

interface Entry {
  value: RoleVerifier;
  expiresAt: number;
}

export function createRoleVerifierClient(opts: RoleVerifierClientOptions): RoleVerifierClient {
  const base = opts.url.replace(/\/+$/, '');
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const maxEntries = opts.maxEntries ?? 10_000;
  const agent = new Agent({ keepAliveTimeout: 10_000, connections: 16 });
  const headers: Record<string, string> = { accept: 'application/json' };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  const cache = new Map<string, Entry>();
  const inflight = new Map<string, { promise: Promise<RoleVerifier>; generation: number }>();
  // Bumped per key by invalidate(), so an answer fetched before it is not cached after it.
  const generations = new Map<string, number>();

  async function fetchRole(project: string, user: string, fresh = false): Promise<RoleVerifier> {
    const path = `/api/v1/projects/${encodeURIComponent(project)}/roles/${encodeURIComponent(user)}${fresh ? '?fresh=1' : ''}`;
    let status: number;
    let answer: RoleAnswer;
    try {
      const res = await request(`${base}${path}`, {
        method: 'GET',
        headers,
        dispatcher: agent,
        signal: AbortSignal.timeout(timeoutMs),
      });
      status = res.statusCode;
      answer = (await res.body.json().catch(() => ({}))) as RoleAnswer;
    } catch (err) {
      throw new RoleVerifierError(
        `control API did not answer for role '${user}' of project '${project}': ${(err as Error).message}`,
        { cause: err },
      );
    }
    if (status === 404) return null;
    if (status !== 200) {
      const code = typeof answer.error?.code === 'string' ? ` (${answer.error.code})` : '';
      throw new RoleVerifierError(
        `control API answered HTTP ${status}${code} for role '${user}' of project '${project}'`,
      );
    }
    if (answer.user !== user || typeof answer.plugin !== 'string') {
      throw new RoleVerifierError(`control API answer for role '${user}' of project '${project}' lacks user or plugin`);
    }
    if (answer.plugin !== NATIVE_PASSWORD_PLUGIN) return 'unknown';
    if (typeof answer.verifier !== 'string') {
      throw new RoleVerifierError(`control API answer for role '${user}' of project '${project}' has no verifier`);
    }
    try {
      return parseNativeVerifier(answer.verifier);
    } catch (err) {
      // The message gives the length only, never the value.
      throw new RoleVerifierError(`control API sent a malformed verifier for role '${user}' of project '${project}'`, {
        cause: err,
      });
    }
  }

  function remember(key: string, value: RoleVerifier): void {
    cache.delete(key);
    cache.set(key, { value, expiresAt: Date.now() + opts.ttlMs });
    while (cache.size > maxEntries) cache.delete(cache.keys().next().value!);
  }

  return {
    get(project, user, signal) {
      const key = `${project}\u0000${user}`;
      const hit = cache.get(key);
      if (hit && hit.expiresAt > Date.now()) return Promise.resolve(hit.value);
      let pending = inflight.get(key);
      if (!pending) {
        const generation = generations.get(key) ?? 0;
        const started = performance.now();
        const promise = fetchRole(project, user).then(
          (value) => {
            inflight.delete(key);
            if ((generations.get(key) ?? 0) === generation) remember(key, value);
            opts.logger?.debug(
              { project, user, found: value !== null, ms: Math.round(performance.now() - started) },
              'role verifier fetched',
            );
            return value;
          },
          (err: unknown) => {
            inflight.delete(key);
            throw err;
          },
        );
        pending = { promise, generation };
        inflight.set(key, pending);
      }
      return raceSignal(pending.promise, signal);
    },
    async refresh(project, user, signal) {
      const key = `${project}\u0000${user}`;
      const value = await raceSignal(fetchRole(project, user, true), signal);
      remember(key, value);
      return value;
    },
    invalidate(project, user) {
      const key = `${project}\u0000${user}`;
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
